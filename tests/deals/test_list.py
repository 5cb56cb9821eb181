"""The deals list: keyset pages in every sort, filters, prefix search, and index-backed plans."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.deals.conftest import new_company, new_contact, new_deal
from tests.helpers import User

SORTS = ["updated_at", "-updated_at", "created_at", "-created_at", "amount", "-amount", "expected_close_date", "title"]


async def _all_pages(user: User, path: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    sep = "&" if "?" in path else "?"
    while True:
        response = await user.get(f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status == 200, response.json
        assert len(response.json["items"]) <= limit
        items.extend(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def seven_deals(alice: User, base: str) -> list[dict[str, Any]]:
    specs = [
        ("delta", 500, "2031-05-01"),
        ("Alpha", 100, None),
        ("charlie", 500, "2030-01-15"),
        ("bravo", 0, "2031-05-01"),
        ("Echo", 999, None),
        ("foxtrot", 250, "2029-12-31"),
        ("golf", 100, "2030-06-30"),
    ]
    return [
        await new_deal(alice, base, title=title, amount=amount, expected_close_date=close)
        for title, amount, close in specs
    ]


@pytest.mark.parametrize("sort", SORTS)
async def test_every_sort_pages_through_everything_once_in_order(
    alice: User, base: str, seven_deals: list[dict[str, Any]], sort: str
) -> None:
    items = await _all_pages(alice, f"{base}/deals?sort={sort}", limit=2)
    assert sorted(d["id"] for d in items) == sorted(d["id"] for d in seven_deals)
    field = sort.lstrip("-")

    def key(deal: dict[str, Any]) -> Any:
        if field == "title":
            return (deal["title"].lower(), deal["id"])
        if field == "expected_close_date":
            return (deal["expected_close_date"] or "9999-01-01", deal["id"])
        return (deal[field], deal["id"])

    assert items == sorted(items, key=key, reverse=sort.startswith("-"))


async def test_filters(
    alice: User, member: User, base: str, org: dict[str, Any], sql: asyncpg.Connection, stage_ids: dict[str, int]
) -> None:
    company = await new_company(sql, org["id"])
    contact = await new_contact(sql, org["id"])
    linked = await new_deal(alice, base, title="Linked", company_id=company, contact_id=contact)
    theirs = await new_deal(member, base, title="Theirs", stage_id=stage_ids["Proposal"])
    won = await new_deal(alice, base, title="Won one", stage_id=stage_ids["Won"])
    lost = await new_deal(alice, base, title="Lost one", stage_id=stage_ids["Lost"])

    async def ids(query: str) -> set[int]:
        response = await alice.get(f"{base}/deals?{query}")
        assert response.status == 200, response.json
        return {d["id"] for d in response.json["items"]}

    assert await ids(f"company={company}") == {linked["id"]}
    assert await ids(f"contact={contact}") == {linked["id"]}
    assert await ids(f"owner={member.id}") == {theirs["id"]}
    assert await ids(f"stage={stage_ids['Proposal']}") == {theirs["id"]}
    assert await ids("status=open") == {linked["id"], theirs["id"]}
    assert await ids("status=won") == {won["id"]}
    assert await ids("status=lost") == {lost["id"]}
    since = won["updated_at"]
    assert await ids(f"updated_since={since}") == {won["id"], lost["id"]}
    assert await ids("updated_since=2999-01-01T00:00:00Z") == set()


async def test_prefix_search_on_words_is_safe(alice: User, base: str) -> None:
    renewal = await new_deal(alice, base, title="Acme annual renewal")
    await new_deal(alice, base, title="Globex pilot")
    for q in ("acm", "ACME ren", "renewal", "acme & | ! ( ) : * '"):
        response = await alice.get(f"{base}/deals", query_string={"q": q})
        assert response.status == 200, (q, response.json)
        assert [d["id"] for d in response.json["items"]] == [renewal["id"]], q
    nothing = await alice.get(f"{base}/deals", query_string={"q": "zzz"})
    assert nothing.json["items"] == []
    only_symbols = await alice.get(f"{base}/deals", query_string={"q": "&|!():*"})
    assert only_symbols.status == 200 and len(only_symbols.json["items"]) == 2


async def test_list_queries_use_org_first_indexes(sql: asyncpg.Connection, org: dict[str, Any]) -> None:
    """Plans on a table big enough that a sequential scan would win if no index fitted."""
    await sql.execute(
        "INSERT INTO deals (org_id, title, amount, stage_id, position, expected_close_date)"
        " SELECT $1, 'Deal ' || g, g, (SELECT min(id) FROM pipeline_stages WHERE org_id = $1),"
        " 'a' || lpad(g::text, 8, '0'), DATE '2030-01-01' + (g % 365) FROM generate_series(1, 4000) g",
        org["id"],
    )
    await sql.execute("ANALYZE deals")
    orders = [
        "d.updated_at DESC, d.id DESC",
        "d.created_at, d.id",
        "d.amount DESC, d.id DESC",
        "COALESCE(d.expected_close_date, DATE '9999-01-01'), d.id",
        "lower(d.title), d.id",
    ]
    for order in orders:
        plan = await sql.fetch(f"EXPLAIN SELECT d.id FROM deals d WHERE d.org_id = $1 ORDER BY {order} LIMIT 51", 1)
        text = "\n".join(r[0] for r in plan)
        assert "Index" in text and "Sort" not in text, (order, text)
    board = await sql.fetch(
        "EXPLAIN SELECT d.* FROM pipeline_stages s CROSS JOIN LATERAL (SELECT d.id FROM deals d"
        " WHERE d.org_id = $1 AND d.stage_id = s.id ORDER BY d.position LIMIT 101) d WHERE s.org_id = $1",
        1,
    )
    assert "deals_org_stage_position_key" in "\n".join(r[0] for r in board)


async def test_a_stage_in_every_order_is_one_index_range(sql: asyncpg.Connection, org: dict[str, Any]) -> None:
    """With deals spread over the stages, `?stage=` with each sort reads only that stage's part of an index."""
    stages = [r["id"] for r in await sql.fetch("SELECT id FROM pipeline_stages WHERE org_id = $1", org["id"])]
    await sql.execute(
        "INSERT INTO deals (org_id, title, amount, stage_id, position, expected_close_date)"
        " SELECT $1, 'Deal ' || g, g, ($2::bigint[])[1 + g % cardinality($2::bigint[])],"
        " 'a' || lpad(g::text, 8, '0'), DATE '2030-01-01' + (g % 365) FROM generate_series(1, 6000) g",
        org["id"],
        stages,
    )
    await sql.execute("ANALYZE deals")
    for order in [
        "d.updated_at DESC, d.id DESC",
        "d.created_at, d.id",
        "d.amount DESC, d.id DESC",
        "COALESCE(d.expected_close_date, DATE '9999-01-01'), d.id",
        "lower(d.title), d.id",
    ]:
        plan = await sql.fetch(
            f"EXPLAIN SELECT d.id FROM deals d WHERE d.org_id = $1 AND d.stage_id = $2 ORDER BY {order} LIMIT 51",
            org["id"],
            stages[0],
        )
        text = "\n".join(r[0] for r in plan)
        assert "Sort" not in text, (order, text)
        assert any("Index Cond" in line and "stage_id" in line for line in text.splitlines()), (order, text)
