"""SQL for API keys."""

from __future__ import annotations

from databases import Database

from crm.db import Row

KEY_COLUMNS = "id, org_id, prefix, name, role, created_by, created_at, last_used_at"


async def insert_api_key(
    db: Database, *, org_id: int, prefix: str, secret_hash: bytes, name: str, role: str, created_by: int
) -> Row:
    row = await db.fetch_one(
        "INSERT INTO api_keys (org_id, prefix, secret_hash, name, role, created_by)"
        f" VALUES (:org, :prefix, :hash, :name, :role, :by) RETURNING {KEY_COLUMNS}",
        {"org": org_id, "prefix": prefix, "hash": secret_hash, "name": name, "role": role, "by": created_by},
    )
    assert row is not None
    return row._mapping


async def select_api_keys(db: Database, *, org_id: int) -> list[Row]:
    rows = await db.fetch_all(
        f"SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = :org AND revoked_at IS NULL ORDER BY id",
        {"org": org_id},
    )
    return [row._mapping for row in rows]


async def select_live_key_by_prefix(db: Database, *, prefix: str) -> Row | None:
    """A key that is not revoked and whose creator still exists (keys act on their creator's behalf)."""
    row = await db.fetch_one(
        f"SELECT {KEY_COLUMNS}, secret_hash, extract(epoch FROM now() - last_used_at) AS idle"
        " FROM api_keys WHERE prefix = :prefix AND revoked_at IS NULL AND created_by IS NOT NULL",
        {"prefix": prefix},
    )
    return row._mapping if row else None


async def touch_api_key(db: Database, *, key_id: int) -> None:
    await db.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE id = :id"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        {"id": key_id},
    )


async def revoke_api_key(db: Database, *, org_id: int, key_id: int) -> bool:
    row = await db.fetch_one(
        "UPDATE api_keys SET revoked_at = now() WHERE org_id = :org AND id = :id AND revoked_at IS NULL RETURNING id",
        {"org": org_id, "id": key_id},
    )
    return row is not None
