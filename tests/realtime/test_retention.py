"""Retention: the relay keeps events for 7 days and prunes what is older."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart

from crm.uow import write_transaction
from realtime import outbox, relay


async def test_prune_drops_events_older_than_seven_days_only(app: Quart, alice: Any, org: dict[str, Any]) -> None:
    db = app.extensions["db"]
    async with app.app_context(), write_transaction(db) as tx:
        for n in range(4):
            await tx.event(org["id"], "note.added", actor=alice.id, data={"n": n})
    first = await outbox.select_events_between(db, org_id=org["id"], after=0, upto=2**62)
    base = first[0]["seq"]
    await db.execute(
        "UPDATE events SET created_at = now() - make_interval(days => :days, mins => 1)"
        " WHERE org_id = :org AND seq < :keep_from",
        {"days": outbox.RETENTION_DAYS, "org": org["id"], "keep_from": base + 2},
    )

    # an instance's relay may hold the prune lock this moment (it prunes on start): then this
    # prune_once stands back (0) and the next one, or that relay, does the work
    removed, expired = 0, 2
    for _ in range(100):
        removed += await relay.prune_once(db)
        expired = await db.fetch_val(
            "SELECT count(*) FROM events WHERE org_id = :org AND seq < :keep_from",
            {"org": org["id"], "keep_from": base + 2},
        )
        if not expired:
            break
        await asyncio.sleep(0.02)
    assert expired == 0 and removed in (0, 2)

    kept = await outbox.select_events_between(db, org_id=org["id"], after=0, upto=2**62)
    assert [e["data"]["n"] for e in kept] == [2, 3]
    assert await outbox.select_oldest_kept_seq(db, org_id=org["id"]) == base + 2
    assert await outbox.select_current_seq(db, org_id=org["id"]) == kept[-1]["seq"]
