"""SQL for pipeline stages and their trigger-kept totals."""

from __future__ import annotations

from databases import Database

from crm.db import Row

STAGE_COLUMNS = (
    "s.id, s.name, s.position, s.kind, s.version, s.created_at, s.updated_at,"
    " COALESCE(t.count, 0) AS count, COALESCE(t.value, 0) AS value"
)
STAGE_FROM = "pipeline_stages s LEFT JOIN deal_stage_totals t ON t.org_id = s.org_id AND t.stage_id = s.id"


async def select_stages(db: Database, *, org_id: int) -> list[Row]:
    rows = await db.fetch_all(
        f"SELECT {STAGE_COLUMNS} FROM {STAGE_FROM} WHERE s.org_id = :org ORDER BY s.position, s.id",
        {"org": org_id},
    )
    return [row._mapping for row in rows]


async def select_stage(db: Database, *, org_id: int, stage_id: int) -> Row | None:
    row = await db.fetch_one(
        f"SELECT {STAGE_COLUMNS} FROM {STAGE_FROM} WHERE s.org_id = :org AND s.id = :id",
        {"org": org_id, "id": stage_id},
    )
    return row._mapping if row else None


async def lock_stage_column(db: Database, *, org_id: int, stage_id: int) -> Row | None:
    """Lock a stage for placing cards in it: serialises order-key choice per column.

    FOR NO KEY UPDATE does not block the deals' foreign-key checks (KEY SHARE).
    """
    row = await db.fetch_one(
        "SELECT s.id, s.kind FROM pipeline_stages s WHERE s.org_id = :org AND s.id = :id FOR NO KEY UPDATE",
        {"org": org_id, "id": stage_id},
    )
    return row._mapping if row else None


async def lock_first_open_stage(db: Database, *, org_id: int) -> Row | None:
    row = await db.fetch_one(
        "SELECT s.id, s.kind FROM pipeline_stages s WHERE s.org_id = :org AND s.kind = 'open'"
        " ORDER BY s.position, s.id LIMIT 1 FOR NO KEY UPDATE",
        {"org": org_id},
    )
    return row._mapping if row else None


async def lock_stages(db: Database, *, org_id: int) -> list[Row]:
    """Lock every stage of the org (structural changes: add, reorder, delete); answer in board order.

    Rows are locked in id order, the order deal moves lock their two columns in.
    """
    rows = await db.fetch_all(
        "SELECT s.id, s.kind, s.position FROM pipeline_stages s WHERE s.org_id = :org ORDER BY s.id FOR UPDATE",
        {"org": org_id},
    )
    return sorted((row._mapping for row in rows), key=lambda s: (s["position"], s["id"]))


async def stage_has_deals(db: Database, *, org_id: int, stage_id: int) -> bool:
    return bool(
        await db.fetch_val(
            "SELECT 1 FROM deals WHERE org_id = :org AND stage_id = :id LIMIT 1", {"org": org_id, "id": stage_id}
        )
    )


async def insert_stage(db: Database, *, org_id: int, name: str, kind: str, position: int) -> int:
    stage_id = await db.fetch_val(
        "INSERT INTO pipeline_stages (org_id, name, kind, position) VALUES (:org, :name, :kind, :position)"
        " RETURNING id",
        {"org": org_id, "name": name, "kind": kind, "position": position},
    )
    return int(stage_id)


async def update_stage(db: Database, *, org_id: int, stage_id: int, changes: dict[str, object]) -> None:
    sets = "".join(f"{column} = :{column}, " for column in changes)
    await db.execute(
        f"UPDATE pipeline_stages SET {sets}updated_at = now(), version = version + 1 WHERE org_id = :org AND id = :id",
        {"org": org_id, "id": stage_id, **changes},
    )


async def update_stage_position(db: Database, *, org_id: int, stage_id: int, position: int) -> None:
    await db.execute(
        "UPDATE pipeline_stages SET position = :position, updated_at = now(), version = version + 1"
        " WHERE org_id = :org AND id = :id",
        {"org": org_id, "id": stage_id, "position": position},
    )


async def delete_stage(db: Database, *, org_id: int, stage_id: int) -> None:
    await db.execute("DELETE FROM pipeline_stages WHERE org_id = :org AND id = :id", {"org": org_id, "id": stage_id})
