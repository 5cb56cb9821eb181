"""SQL over the `events` outbox: replay ranges, the relay's batches, retention."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson
from databases import Database

EVENT_COLUMNS = "org_id, seq, id, type, actor_id, audience, data, created_at"
RETENTION_DAYS = 7


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def envelope_from_row(row: Any) -> dict[str, Any]:
    """The same dict `realtime.publish.record` returns, rebuilt from a stored row."""
    return {
        "type": row["type"],
        "org": row["org_id"],
        "seq": row["seq"],
        "id": str(row["id"]),
        "at": row["created_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "actor": row["actor_id"],
        "data": _json(row["data"]),
        "audience": _json(row["audience"]),
    }


async def select_current_seq(db: Database, *, org_id: int) -> int:
    seq = await db.fetch_val("SELECT event_seq FROM org_counters WHERE org_id = :org", {"org": org_id})
    return int(seq or 0)


async def select_oldest_kept_seq(db: Database, *, org_id: int) -> int | None:
    seq = await db.fetch_val("SELECT min(seq) FROM events WHERE org_id = :org", {"org": org_id})
    return None if seq is None else int(seq)


async def select_events_between(db: Database, *, org_id: int, after: int, upto: int) -> list[dict[str, Any]]:
    """Events with after < seq <= upto, in seq order."""
    rows = await db.fetch_all(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE org_id = :org AND seq > :after AND seq <= :upto ORDER BY seq",
        {"org": org_id, "after": after, "upto": upto},
    )
    return [envelope_from_row(row) for row in rows]


async def select_unpublished_for_update(db: Database, *, older_than: float, limit: int) -> list[dict[str, Any]]:
    """Committed, unpublished events older than `older_than` seconds, locked (SKIP LOCKED: one relay each)."""
    rows = await db.fetch_all(
        f"SELECT {EVENT_COLUMNS} FROM events"
        " WHERE published_at IS NULL AND created_at < now() - make_interval(secs => :age)"
        " ORDER BY org_id, seq LIMIT :limit FOR UPDATE SKIP LOCKED",
        {"age": older_than, "limit": limit},
    )
    return [envelope_from_row(row) for row in rows]


async def mark_published(db: Database, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    await db.execute(
        "UPDATE events SET published_at = now() FROM unnest(CAST(:orgs AS bigint[]), CAST(:seqs AS bigint[]))"
        " AS done(org_id, seq) WHERE events.org_id = done.org_id AND events.seq = done.seq"
        " AND events.published_at IS NULL",
        {"orgs": [e["org"] for e in events], "seqs": [e["seq"] for e in events]},
    )


async def delete_expired_events(db: Database, *, batch: int = 5000) -> int:
    """Drop one batch of events older than the retention period; how many went."""
    rows = await db.fetch_all(
        "DELETE FROM events WHERE ctid IN (SELECT ctid FROM events"
        " WHERE created_at < now() - make_interval(days => :days) LIMIT :batch) RETURNING seq",
        {"days": RETENTION_DAYS, "batch": batch},
    )
    return len(rows)
