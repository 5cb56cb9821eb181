"""Moving cards: top, bottom, between, across stages; one row written per move; random moves stay ordered."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from crm.db import asyncpg_dsn
from tests.deals.conftest import column_order, new_deal, table_counts
from tests.helpers import User


async def _column(alice: User, base: str, stage_id: int, n: int) -> list[dict[str, Any]]:
    return [await new_deal(alice, base, title=f"Card {i}", stage_id=stage_id) for i in range(n)]


async def move(user: User, base: str, deal: dict[str, Any], **body: Any) -> Any:
    response = await user.post(f"{base}/deals/{deal['id']}/move", json={"version": deal["version"], **body})
    return response


async def test_move_to_top_bottom_and_between(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    lead = stage_ids["Lead"]
    a, b, c, d = await _column(alice, base, lead, 4)
    top = await move(alice, base, d, stage_id=lead, after_id=a["id"])
    assert top.status == 200, top.json
    assert await column_order(sql, org["id"], lead) == [d["id"], a["id"], b["id"], c["id"]]
    bottom = await move(alice, base, a, stage_id=lead)
    assert bottom.status == 200
    assert await column_order(sql, org["id"], lead) == [d["id"], b["id"], c["id"], a["id"]]
    between = await move(alice, base, top.json, stage_id=lead, before_id=b["id"], after_id=c["id"])
    assert between.status == 200
    assert await column_order(sql, org["id"], lead) == [b["id"], d["id"], c["id"], a["id"]]
    assert between.json["version"] == top.json["version"] + 1
    only_before = await move(alice, base, bottom.json, stage_id=lead, before_id=b["id"])
    assert only_before.status == 200
    assert await column_order(sql, org["id"], lead) == [b["id"], a["id"], d["id"], c["id"]]


async def test_aliases_stage_before_after_are_accepted(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    qualified = stage_ids["Qualified"]
    x, y = await _column(alice, base, qualified, 2)
    mover = await new_deal(alice, base)
    response = await move(alice, base, mover, stage=qualified, before=x["id"], after=y["id"])
    assert response.status == 200, response.json
    assert await column_order(sql, org["id"], qualified) == [x["id"], mover["id"], y["id"]]


async def test_move_across_stages_stamps_won_and_lost(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    deal = await new_deal(alice, base, amount=700)
    won = await move(alice, base, deal, stage_id=stage_ids["Won"])
    assert won.status == 200
    assert won.json["stage_id"] == stage_ids["Won"]
    assert won.json["won_at"] is not None and won.json["lost_at"] is None
    lost = await move(alice, base, won.json, stage_id=stage_ids["Lost"])
    assert lost.json["won_at"] is None and lost.json["lost_at"] is not None
    back = await move(alice, base, lost.json, stage_id=stage_ids["Proposal"])
    assert back.json["won_at"] is None and back.json["lost_at"] is None
    assert await column_order(sql, org["id"], stage_ids["Proposal"]) == [deal["id"]]


async def test_a_move_writes_only_the_moved_row(
    alice: User, base: str, stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    lead, proposal = stage_ids["Lead"], stage_ids["Proposal"]
    cards = await _column(alice, base, lead, 5) + await _column(alice, base, proposal, 3)
    snapshot = {r["id"]: (r["updated_at"], r["version"], r["position"]) for r in await sql.fetch("SELECT * FROM deals")}
    mover = cards[2]
    response = await move(alice, base, mover, stage_id=proposal, before_id=cards[5]["id"], after_id=cards[6]["id"])
    assert response.status == 200
    after = {r["id"]: (r["updated_at"], r["version"], r["position"]) for r in await sql.fetch("SELECT * FROM deals")}
    changed = [deal_id for deal_id in snapshot if snapshot[deal_id] != after[deal_id]]
    assert changed == [mover["id"]]


async def test_two_hundred_random_moves_keep_every_column_strictly_ordered(
    alice: User, base: str, org: dict[str, Any], stages: list[dict[str, Any]], sql: asyncpg.Connection
) -> None:
    rng = random.Random(20261126)
    stage_list = [s["id"] for s in stages]
    deals = {d["id"]: d for d in [await new_deal(alice, base, title=f"D{i}") for i in range(12)]}
    expected: dict[int, list[int]] = {s: [] for s in stage_list}
    expected[stage_list[0]] = list(deals)
    for _ in range(200):
        deal_id = rng.choice(list(deals))
        target = rng.choice(stage_list)
        for column in expected.values():
            if deal_id in column:
                column.remove(deal_id)
        column = expected[target]
        index = rng.randint(0, len(column))
        body: dict[str, Any] = {"stage_id": target}
        style = rng.choice(("both", "before", "after"))
        if index > 0 and style in ("both", "before"):
            body["before_id"] = column[index - 1]
        if index < len(column) and (style in ("both", "after") or "before_id" not in body):
            body["after_id"] = column[index]
        column.insert(index, deal_id)
        response = await move(alice, base, deals[deal_id], **body)
        assert response.status == 200, (body, response.json)
        deals[deal_id] = response.json
    rows = await sql.fetch("SELECT id, stage_id, position FROM deals WHERE org_id = $1", org["id"])
    for stage_id in stage_list:
        positions = [r["position"] for r in sorted(rows, key=lambda r: r["position"]) if r["stage_id"] == stage_id]
        assert len(set(positions)) == len(positions)
        assert await column_order(sql, org["id"], stage_id) == expected[stage_id]
    board = (await alice.get(f"{base}/pipeline")).json
    assert {s["id"]: [d["id"] for d in s["deals"]] for s in board["stages"]} == expected


async def test_neighbours_must_be_adjacent_cards_of_the_target_stage(
    alice: User,
    bob: User,
    base: str,
    other_org: dict[str, Any],
    stage_ids: dict[str, int],
    sql: asyncpg.Connection,
) -> None:
    lead, won = stage_ids["Lead"], stage_ids["Won"]
    a, b, c = await _column(alice, base, lead, 3)
    in_won = await new_deal(alice, base, stage_id=won)
    mover = await new_deal(alice, base, stage_id=stage_ids["Qualified"])
    foreign = await new_deal(bob, f"/api/v1/orgs/{other_org['slug']}", title="Bob's")
    before = await table_counts(sql)
    cases = [
        ({"before_id": a["id"], "after_id": c["id"]}, "not_adjacent"),
        ({"before_id": c["id"], "after_id": a["id"]}, "not_adjacent"),
        ({"before_id": in_won["id"]}, "validation_error"),
        ({"after_id": foreign["id"]}, "validation_error"),
        ({"before_id": mover["id"]}, "validation_error"),
        ({"before_id": 9_000_000}, "validation_error"),
    ]
    for extra, code in cases:
        response = await move(alice, base, mover, stage_id=lead, **extra)
        assert response.status == 422, (extra, response.json)
        assert response.json["error"]["code"] == code
        assert "Bob's" not in str(response.json)
    foreign_stage = (await bob.get(f"/api/v1/orgs/{other_org['slug']}/stages")).json["items"][0]["id"]
    response = await move(alice, base, mover, stage_id=foreign_stage)
    assert response.status == 422 and "stage_id" in response.json["error"]["fields"]
    assert await table_counts(sql) == before
    assert await column_order(sql, other_org["id"], foreign["stage_id"]) == [foreign["id"]]
    assert (await alice.get(f"{base}/deals/{b['id']}")).json["version"] == 1


async def test_stale_move_is_409_and_moves_nothing(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    deal = await new_deal(alice, base)
    renamed = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "Renamed", "version": 1})
    assert renamed.status == 200
    response = await move(alice, base, deal, stage_id=stage_ids["Won"])
    assert response.status == 409
    assert response.json["error"]["current"]["title"] == "Renamed"
    assert await column_order(sql, org["id"], stage_ids["Won"]) == []


async def test_move_to_where_it_already_is_changes_nothing(
    alice: User, base: str, stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    a, b = await _column(alice, base, stage_ids["Lead"], 2)
    events_before = await sql.fetchval("SELECT count(*) FROM events")
    response = await move(alice, base, b, stage_id=stage_ids["Lead"], before_id=a["id"])
    assert response.status == 200
    assert response.json == b
    assert await sql.fetchval("SELECT count(*) FROM events") == events_before


async def test_concurrent_moves_into_one_column_get_distinct_keys(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    """Placements in a column are serialised, so racing moves never pick the same key."""
    won = stage_ids["Won"]
    anchor_top, anchor_bottom = await _column(alice, base, won, 2)
    movers = await _column(alice, base, stage_ids["Lead"], 8)
    to_bottom = [move(alice, base, deal, stage_id=won) for deal in movers[:4]]
    into_gap = [move(alice, base, deal, stage_id=won, before_id=anchor_top["id"]) for deal in movers[4:]]
    responses = await asyncio.gather(*to_bottom, *into_gap)
    assert [r.status for r in responses] == [200] * 8
    order = await column_order(sql, org["id"], won)
    assert len(order) == 10
    assert order[0] == anchor_top["id"]
    assert set(order[1:5]) == {d["id"] for d in movers[4:]}
    assert set(order[6:]) == {d["id"] for d in movers[:4]} and order[5] == anchor_bottom["id"]
    positions = [r["position"] for r in await sql.fetch("SELECT position FROM deals WHERE stage_id = $1", won)]
    assert len(set(positions)) == len(positions)


async def test_racing_moves_between_the_same_pair_never_collide(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    proposal = stage_ids["Proposal"]
    a, b = await _column(alice, base, proposal, 2)
    movers = await _column(alice, base, stage_ids["Lead"], 5)
    responses = await asyncio.gather(
        *(move(alice, base, deal, stage_id=proposal, before_id=a["id"], after_id=b["id"]) for deal in movers)
    )
    statuses = sorted(r.status for r in responses)
    # the first wins the gap; the rest see a card between a and b now and must re-read the board
    assert statuses[0] == 200 and set(statuses) <= {200, 422}
    winners = [deal["id"] for deal, r in zip(movers, responses, strict=True) if r.status == 200]
    order = await column_order(sql, org["id"], proposal)
    assert order[0] == a["id"] and order[-1] == b["id"] and set(order[1:-1]) == set(winners)


async def test_crossing_moves_between_two_stages_all_succeed(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    """Moves in opposite directions touch the same two stage totals; they must not deadlock each other."""
    lead, won = stage_ids["Lead"], stage_ids["Won"]
    in_lead = await _column(alice, base, lead, 8)
    in_won = await _column(alice, base, won, 8)
    responses = await asyncio.gather(
        *(move(alice, base, deal, stage_id=won) for deal in in_lead),
        *(move(alice, base, deal, stage_id=lead) for deal in in_won),
    )
    assert [r.status for r in responses] == [200] * 16
    assert set(await column_order(sql, org["id"], won)) == {d["id"] for d in in_lead}
    totals = await sql.fetch("SELECT stage_id, count FROM deal_stage_totals WHERE org_id = $1", org["id"])
    assert {r["stage_id"]: r["count"] for r in totals if r["count"]} == {lead: 8, won: 8}


async def _backends_waiting_for_locks(database_url: str) -> None:
    """Return once some other backend of this database waits for a row lock."""
    watcher = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        while not await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ):
            await asyncio.sleep(0.01)
    finally:
        await watcher.close()


async def test_a_move_that_loses_a_deadlock_is_retried_not_a_500(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], database_url: str
) -> None:
    lead, won = stage_ids["Lead"], stage_ids["Won"]
    await new_deal(alice, base, stage_id=won)  # both totals rows exist
    for _attempt in range(3):
        deal = await new_deal(alice, base)
        rival = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            transaction = rival.transaction()
            await transaction.start()
            # another writer holds the Won total; the move's trigger takes the Lead total, then waits for Won
            await rival.execute("SELECT 1 FROM deal_stage_totals WHERE stage_id = $1 FOR UPDATE", won)
            moving = asyncio.create_task(move(alice, base, deal, stage_id=won))
            await asyncio.wait_for(_backends_waiting_for_locks(database_url), timeout=10)
            # ... and now wants the Lead total: a deadlock, which PostgreSQL breaks by aborting
            # the move (the longer waiter); on a loaded machine it may abort the rival instead
            rival_lost = False
            try:
                await asyncio.wait_for(
                    rival.execute("UPDATE deal_stage_totals SET count = count WHERE stage_id = $1", lead), timeout=10
                )
            except asyncpg.exceptions.DeadlockDetectedError:
                rival_lost = True
            await transaction.rollback()
            response = await asyncio.wait_for(moving, timeout=10)
        finally:
            await rival.close()
        assert response.status == 200, response.json
        assert response.json["stage_id"] == won and response.json["version"] == 2
        if not rival_lost:
            return
    pytest.fail("the rival, not the move, lost every deadlock: the retry was never exercised")


async def test_concurrent_creates_in_one_column_get_distinct_keys(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    responses = await asyncio.gather(*(alice.post(f"{base}/deals", json={"title": f"N{i}"}) for i in range(10)))
    assert [r.status for r in responses] == [201] * 10
    order = await column_order(sql, org["id"], stage_ids["Lead"])
    assert sorted(order) == sorted(r.json["id"] for r in responses)
    positions = [r.json["position"] for r in responses]
    assert len(set(positions)) == 10
