"""SQL for users."""

from __future__ import annotations

from databases import Database

from crm.db import Row

USER_COLUMNS = "id, email, name, email_verified_at, totp_enabled_at, created_at, updated_at, version"


async def insert_user(db: Database, *, email: str, name: str, password_hash: str | None) -> Row | None:
    """The new user, or None if the email is taken (case-insensitively)."""
    row = await db.fetch_one(
        "INSERT INTO users (email, name, password_hash) VALUES (:email, :name, :hash)"
        f" ON CONFLICT ((lower(email))) DO NOTHING RETURNING {USER_COLUMNS}",
        {"email": email, "name": name, "hash": password_hash},
    )
    return row._mapping if row else None


async def select_user(db: Database, *, user_id: int) -> Row | None:
    row = await db.fetch_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = :id", {"id": user_id})
    return row._mapping if row else None


async def select_user_by_email(db: Database, *, email: str) -> Row | None:
    row = await db.fetch_one(f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower(:email)", {"email": email})
    return row._mapping if row else None


async def select_login(db: Database, *, email: str) -> Row | None:
    row = await db.fetch_one(
        "SELECT id, password_hash, totp_enabled_at FROM users WHERE lower(email) = lower(:email)",
        {"email": email},
    )
    return row._mapping if row else None


async def insert_verified_user(db: Database, *, email: str, name: str) -> Row | None:
    """A user who proved their email elsewhere (an OpenID provider) and has no password."""
    row = await db.fetch_one(
        "INSERT INTO users (email, name, password_hash, email_verified_at) VALUES (:email, :name, NULL, now())"
        f" ON CONFLICT ((lower(email))) DO NOTHING RETURNING {USER_COLUMNS}",
        {"email": email, "name": name},
    )
    return row._mapping if row else None


async def update_email_verified(db: Database, *, user_id: int, email: str) -> Row | None:
    """Mark the address verified, if the user still has this address."""
    row = await db.fetch_one(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now()"
        f" WHERE id = :id AND lower(email) = lower(:email) RETURNING {USER_COLUMNS}",
        {"id": user_id, "email": email},
    )
    return row._mapping if row else None


async def update_password(db: Database, *, user_id: int, password_hash: str) -> bool:
    row = await db.fetch_one(
        "UPDATE users SET password_hash = :hash, updated_at = now(), version = version + 1 WHERE id = :id RETURNING id",
        {"id": user_id, "hash": password_hash},
    )
    return row is not None


async def select_identity_user(db: Database, *, issuer: str, subject: str) -> int | None:
    value = await db.fetch_val(
        "UPDATE oauth_identities SET last_login_at = now() WHERE issuer = :iss AND subject = :sub RETURNING user_id",
        {"iss": issuer, "sub": subject},
    )
    return int(value) if value is not None else None


async def insert_identity(db: Database, *, issuer: str, subject: str, user_id: int, email: str | None) -> None:
    await db.execute(
        "INSERT INTO oauth_identities (issuer, subject, user_id, email) VALUES (:iss, :sub, :uid, :email)"
        " ON CONFLICT (issuer, subject) DO NOTHING",
        {"iss": issuer, "sub": subject, "uid": user_id, "email": email},
    )


async def update_user_name(db: Database, *, user_id: int, name: str) -> Row | None:
    row = await db.fetch_one(
        "UPDATE users SET name = :name, updated_at = now(), version = version + 1"
        f" WHERE id = :id RETURNING {USER_COLUMNS}",
        {"id": user_id, "name": name},
    )
    return row._mapping if row else None


async def select_password_hash(db: Database, *, user_id: int) -> str | None:
    value = await db.fetch_val("SELECT password_hash FROM users WHERE id = :id", {"id": user_id})
    return None if value is None else str(value)
