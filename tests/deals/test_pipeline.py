"""The board: stages in order with their cards, totals equal to a fresh SUM, caps and filters."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.deals.conftest import new_deal
from tests.helpers import User


async def test_board_shape_and_order(alice: User, base: str, stage_ids: dict[str, int]) -> None:
    a = await new_deal(alice, base, title="A", stage_id=stage_ids["Qualified"])
    b = await new_deal(alice, base, title="B", stage_id=stage_ids["Qualified"])
    moved = await alice.post(
        f"{base}/deals/{b['id']}/move", json={"stage_id": stage_ids["Qualified"], "after_id": a["id"], "version": 1}
    )
    assert moved.status == 200
    board = await alice.get(f"{base}/pipeline")
    assert board.status == 200
    stages = board.json["stages"]
    assert [s["name"] for s in stages] == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    for stage in stages:
        assert {"id", "name", "position", "kind", "count", "value", "deals", "has_more"} <= set(stage)
    qualified = stages[1]
    assert [d["id"] for d in qualified["deals"]] == [b["id"], a["id"]]
    assert qualified["deals"][0] == moved.json


async def test_totals_equal_a_fresh_sum_after_many_changes(
    alice: User, base: str, org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    deals = [await new_deal(alice, base, amount=100 * (i + 1)) for i in range(6)]
    await alice.post(f"{base}/deals/{deals[0]['id']}/move", json={"stage_id": stage_ids["Won"], "version": 1})
    await alice.post(f"{base}/deals/{deals[1]['id']}/move", json={"stage_id": stage_ids["Lost"], "version": 1})
    await alice.patch(f"{base}/deals/{deals[2]['id']}", json={"amount": 12345, "version": 1})
    await alice.patch(f"{base}/deals/{deals[3]['id']}", json={"stage_id": stage_ids["Proposal"], "version": 1})
    await alice.delete(f"{base}/deals/{deals[4]['id']}")
    fresh = {
        r["stage_id"]: (r["count"], r["value"])
        for r in await sql.fetch(
            "SELECT stage_id, count(*) AS count, sum(amount) AS value FROM deals WHERE org_id = $1 GROUP BY stage_id",
            org["id"],
        )
    }
    board = (await alice.get(f"{base}/pipeline")).json["stages"]
    for stage in board:
        assert (stage["count"], stage["value"]) == fresh.get(stage["id"], (0, 0)), stage["name"]
        assert stage["count"] == len(stage["deals"])
    assert sum(s["value"] for s in board) == 100 + 200 + 12345 + 400 + 600


async def test_per_stage_cap_says_has_more(alice: User, base: str) -> None:
    for i in range(5):
        await new_deal(alice, base, title=f"L{i}")
    board = (await alice.get(f"{base}/pipeline?per_stage=3")).json["stages"]
    lead = board[0]
    assert len(lead["deals"]) == 3 and lead["has_more"] is True and lead["count"] == 5
    assert [d["title"] for d in lead["deals"]] == ["L0", "L1", "L2"]
    assert board[1]["has_more"] is False
    exact = (await alice.get(f"{base}/pipeline?per_stage=5")).json["stages"][0]
    assert len(exact["deals"]) == 5 and exact["has_more"] is False


async def test_board_filters_by_owner_and_words(alice: User, member: User, base: str) -> None:
    await new_deal(alice, base, title="Acme renewal")
    await new_deal(member, base, title="Acme expansion")
    await new_deal(member, base, title="Globex pilot")
    mine = (await alice.get(f"{base}/pipeline?owner=me")).json["stages"][0]["deals"]
    assert [d["title"] for d in mine] == ["Acme renewal"]
    theirs = (await alice.get(f"{base}/pipeline?owner={member.id}&q=acm")).json["stages"][0]["deals"]
    assert [d["title"] for d in theirs] == ["Acme expansion"]


async def test_board_bad_parameters_are_422(alice: User, base: str) -> None:
    for query in ("per_stage=0", "per_stage=501", "per_stage=x", "owner=abc", "owner=-1"):
        response = await alice.get(f"{base}/pipeline?{query}")
        assert response.status == 422, query
        assert response.json["error"]["fields"]
