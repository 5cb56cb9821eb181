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
