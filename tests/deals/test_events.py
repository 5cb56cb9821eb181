"""Every write leaves one outbox event with the wire record; applying them rebuilds what a fresh GET shows;
cached reads never serve a view from before a write."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.deals.conftest import new_deal
from tests.helpers import User


async def outbox(sql: asyncpg.Connection, org_id: int, after_seq: int = 0) -> list[dict[str, Any]]:
    rows = await sql.fetch(
        "SELECT seq, type, actor_id, data FROM events WHERE org_id = $1 AND seq > $2 ORDER BY seq", org_id, after_seq
    )
    return [{"seq": r["seq"], "type": r["type"], "actor": r["actor_id"], "data": json.loads(r["data"])} for r in rows]


async def last_seq(sql: asyncpg.Connection, org_id: int) -> int:
    return int(await sql.fetchval("SELECT coalesce(max(seq), 0) FROM events WHERE org_id = $1", org_id))


async def test_each_deal_write_records_one_event_with_the_wire_record(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    start = await last_seq(sql, org["id"])
    created = await new_deal(alice, base, title="Evented", amount=42)
    updated = (await alice.patch(f"{base}/deals/{created['id']}", json={"amount": 43, "version": 1})).json
    moved = (
        await alice.post(f"{base}/deals/{created['id']}/move", json={"stage_id": stage_ids["Won"], "version": 2})
    ).json
    assert (await alice.delete(f"{base}/deals/{created['id']}")).status == 204
    events = await outbox(sql, org["id"], start)
    assert [e["type"] for e in events] == ["deal.created", "deal.updated", "deal.moved", "deal.deleted"]
    assert all(e["actor"] == alice.id for e in events)
    assert events[0]["data"] == created
    assert {k: v for k, v in events[1]["data"].items() if k != "from_stage_id"} == updated
    assert events[2]["data"]["from_stage_id"] == stage_ids["Lead"]
    for key in ("id", "stage_id", "position", "version", "won_at", "lost_at"):
        assert events[2]["data"][key] == moved[key]
    assert events[3]["data"]["id"] == created["id"]
    assert [e["seq"] for e in events] == list(range(start + 1, start + 5))


async def test_applying_board_events_matches_a_fresh_board(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    start_board = (await alice.get(f"{base}/pipeline")).json
    start = await last_seq(sql, org["id"])
    a = await new_deal(alice, base, title="A", amount=10)
    b = await new_deal(alice, base, title="B", amount=20)
    c = await new_deal(alice, base, title="C", amount=30, stage_id=stage_ids["Proposal"])
    await alice.post(
        f"{base}/deals/{b['id']}/move", json={"stage_id": stage_ids["Lead"], "after_id": a["id"], "version": 1}
    )
    await alice.post(
        f"{base}/deals/{a['id']}/move", json={"stage_id": stage_ids["Proposal"], "before_id": c["id"], "version": 1}
    )
    await alice.patch(f"{base}/deals/{c['id']}", json={"stage_id": stage_ids["Won"], "version": 1})
    await alice.delete(f"{base}/deals/{b['id']}")

    cards: dict[int, dict[str, Any]] = {d["id"]: d for s in start_board["stages"] for d in s["deals"]}
    for event in await outbox(sql, org["id"], start):
        record = {k: v for k, v in event["data"].items() if k not in ("from_stage_id", "before_id", "after_id")}
        if event["type"] == "deal.deleted":
            cards.pop(record["id"], None)
        else:
            cards[record["id"]] = record
    applied = {
        s["id"]: [d for d in sorted(cards.values(), key=lambda d: d["position"]) if d["stage_id"] == s["id"]]
        for s in start_board["stages"]
    }
    fresh = (await alice.get(f"{base}/pipeline")).json
    assert {s["id"]: s["deals"] for s in fresh["stages"]} == applied


async def test_stage_and_activity_writes_are_evented(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    start = await last_seq(sql, org["id"])
    stage = (await alice.post(f"{base}/stages", json={"name": "Demo"})).json
    await alice.patch(f"{base}/stages/{stage['id']}", json={"name": "Demo day"})
    await alice.delete(f"{base}/stages/{stage['id']}")
    activity = (await alice.post(f"{base}/activities", json={"type": "call", "subject": "Ring"})).json
    done = (await alice.patch(f"{base}/activities/{activity['id']}", json={"done": True, "version": 1})).json
    await alice.delete(f"{base}/activities/{activity['id']}")
    events = await outbox(sql, org["id"], start)
    assert [e["type"] for e in events] == [
        "stage.created",
        "stage.updated",
        "stage.deleted",
        "activity.created",
        "activity.updated",
        "activity.deleted",
    ]
    assert events[0]["data"]["id"] == stage["id"]
    assert events[0]["data"]["order"] == [*stage_ids.values(), stage["id"]]
    assert events[2]["data"]["order"] == list(stage_ids.values())
    assert events[3]["data"] == activity
    assert events[4]["data"] == done
    assert events[5]["data"]["id"] == activity["id"]


async def test_failed_writes_record_no_event(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    deal = await new_deal(alice, base)
    start = await last_seq(sql, org["id"])
    await alice.post(f"{base}/deals", json={"title": "x", "owner_id": 777777})
    await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "x", "version": 9})
    await alice.post(
        f"{base}/deals/{deal['id']}/move", json={"stage_id": stage_ids["Won"], "before_id": 999999, "version": 1}
    )
    await alice.delete(f"{base}/stages/{stage_ids['Lead']}")
    assert await outbox(sql, org["id"], start) == []


async def test_cached_reads_never_serve_a_view_from_before_a_write(
    alice: User, base: str, stage_ids: dict[str, int]
) -> None:
    deal = await new_deal(alice, base, title="Before")
    for path in (f"{base}/deals/{deal['id']}", f"{base}/deals", f"{base}/pipeline", f"{base}/stages"):
        assert (await alice.get(path)).status == 200
        assert (await alice.get(path)).status == 200  # now cached, if the route caches
    await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "After", "amount": 77, "version": 1})
    await alice.post(f"{base}/deals/{deal['id']}/move", json={"stage_id": stage_ids["Won"], "version": 2})
    record = (await alice.get(f"{base}/deals/{deal['id']}")).json
    assert (record["title"], record["stage_id"], record["version"]) == ("After", stage_ids["Won"], 3)
    assert [d["title"] for d in (await alice.get(f"{base}/deals")).json["items"]] == ["After"]
    board = {s["id"]: s for s in (await alice.get(f"{base}/pipeline")).json["stages"]}
    assert [d["title"] for d in board[stage_ids["Won"]]["deals"]] == ["After"]
    assert board[stage_ids["Lead"]]["deals"] == []
    stages = {s["id"]: s for s in (await alice.get(f"{base}/stages")).json["items"]}
    assert (stages[stage_ids["Won"]]["count"], stages[stage_ids["Won"]]["value"]) == (1, 77)
