"""SQL for TOTP state and recovery codes."""

from __future__ import annotations

from databases import Database

from crm.db import Row


async def select_totp_state(db: Database, *, user_id: int) -> Row | None:
    row = await db.fetch_one("SELECT email, totp_secret, totp_enabled_at FROM users WHERE id = :id", {"id": user_id})
    return row._mapping if row else None


async def update_pending_secret(db: Database, *, user_id: int, secret: str) -> bool:
    """Store a not-yet-confirmed secret; False if 2FA is already on."""
    row = await db.fetch_one(
        "UPDATE users SET totp_secret = :secret, totp_last_step = NULL"
        " WHERE id = :id AND totp_enabled_at IS NULL RETURNING id",
        {"id": user_id, "secret": secret},
    )
    return row is not None


async def claim_totp_step(db: Database, *, user_id: int, step: int) -> bool:
    """Record a TOTP time step as used; False if it (or a later one) was used already (replay)."""
    row = await db.fetch_one(
        "UPDATE users SET totp_last_step = :step"
        " WHERE id = :id AND (totp_last_step IS NULL OR totp_last_step < :step) RETURNING id",
        {"id": user_id, "step": step},
    )
    return row is not None


async def update_totp_enabled(db: Database, *, user_id: int) -> bool:
    row = await db.fetch_one(
        "UPDATE users SET totp_enabled_at = now(), updated_at = now(), version = version + 1"
        " WHERE id = :id AND totp_enabled_at IS NULL AND totp_secret IS NOT NULL RETURNING id",
        {"id": user_id},
    )
    return row is not None


async def update_totp_disabled(db: Database, *, user_id: int) -> None:
    await db.execute(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,"
        " updated_at = now(), version = version + 1 WHERE id = :id",
        {"id": user_id},
    )
    await delete_recovery_codes(db, user_id=user_id)


async def delete_recovery_codes(db: Database, *, user_id: int) -> None:
    await db.execute("DELETE FROM user_recovery_codes WHERE user_id = :id", {"id": user_id})


async def insert_recovery_codes(db: Database, *, user_id: int, hashes: list[bytes]) -> None:
    await db.execute_many(
        "INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (:user_id, :hash)",
        [{"user_id": user_id, "hash": code_hash} for code_hash in hashes],
    )


async def use_recovery_code(db: Database, *, user_id: int, code_hash: bytes) -> bool:
    """Mark an unused code as used; False if unknown or used before."""
    row = await db.fetch_one(
        "UPDATE user_recovery_codes SET used_at = now()"
        " WHERE user_id = :id AND code_hash = :hash AND used_at IS NULL RETURNING user_id",
        {"id": user_id, "hash": code_hash},
    )
    return row is not None


async def count_recovery_codes_left(db: Database, *, user_id: int) -> int:
    return int(
        await db.fetch_val(
            "SELECT count(*) FROM user_recovery_codes WHERE user_id = :id AND used_at IS NULL", {"id": user_id}
        )
    )
