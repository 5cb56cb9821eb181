from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from quart import Quart

from crm.companies.listing import parse_list_args
from crm.companies.queries import companies_page_sql
from tests.companies.support import create, db_of, walk
from tests.helpers import Api, User

SORTS = ["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]
NAMES = ["delta", "Alpha", "charlie", "Bravo", "alpha", "Echo", "bravo", "Foxtrot", "golf", "Alpha"]


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/companies"


def key_of(sort: str, company: dict[str, Any]) -> tuple[Any, int]:
    field = sort.lstrip("-")
    return (company["name"].lower() if field == "name" else company[field], company["id"])


@pytest.fixture
async def companies(alice: User, org: dict[str, Any]) -> list[dict[str, Any]]:
    made = [await create(alice, org, "companies", name=name) for name in NAMES]
    # touch a few so that updated_at order differs from created_at order
    for company in (made[0], made[5], made[2]):
        response = await alice.patch(f"{base(org)}/{company['id']}", json={"phone": "1", "version": 1})
        made[made.index(company)] = response.json
    return made


@pytest.mark.parametrize("sort", SORTS)
async def test_pages_walk_every_company_exactly_once_in_order(
    alice: User, org: dict[str, Any], companies: list[dict[str, Any]], sort: str
) -> None:
    pages = await walk(alice, base(org), limit=3, sort=sort)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    seen = [c for p in pages for c in p]
    assert sorted(c["id"] for c in seen) == sorted(c["id"] for c in companies)
    expected = sorted(companies, key=lambda c: key_of(sort, c), reverse=sort.startswith("-"))
    assert [c["id"] for c in seen] == [c["id"] for c in expected]


async def test_default_sort_is_by_name_and_the_last_page_has_no_cursor(
    alice: User, org: dict[str, Any], companies: list[dict[str, Any]]
) -> None:
    response = await alice.get(base(org))
    assert response.status == 200
    assert response.json["next_cursor"] is None
    assert [c["name"].lower() for c in response.json["items"]] == sorted(n.lower() for n in NAMES)


async def test_search_finds_by_word_prefix_within_the_org_only(app: Quart, alice: User, bob: User) -> None:
    org = await alice.create_org("Alice Org")
    bobs_org = await bob.create_org("Bob Org")
    acme = await create(alice, org, "companies", name="Acme Rockets", domain="acme.example")
    await create(alice, org, "companies", name="Globex")
    await create(bob, bobs_org, "companies", name="Acme Rockets")

    async def found(q: str) -> list[int]:
        response = await alice.get(base(org), query_string={"q": q})
        assert response.status == 200, response.json
        return [c["id"] for c in response.json["items"]]

    assert await found("acm") == [acme["id"]]
    assert await found("ROCK acme") == [acme["id"]]
    assert await found("acme.exa") == [acme["id"]]
    assert await found("acme zzz") == []
    # tsquery operators are stripped, never interpreted
    assert await found("acm:* | glob") == []
    assert await found("!acme & (rock") == [acme["id"]]
    assert await found("'acme' \\") == [acme["id"]]
    assert len(await found("&|!")) == 2  # nothing searchable: no filter


async def test_owner_and_updated_since_filters(app: Quart, alice: User, bob: User, org: dict[str, Any]) -> None:
    await Api(app).add_member(alice, org, bob, "member")
    mine = await create(alice, org, "companies", name="Mine", owner_id=alice.id)
    bobs = await create(alice, org, "companies", name="Bobs", owner_id=bob.id)
    await create(alice, org, "companies", name="Nobody's")

    owned = await alice.get(base(org), query_string={"owner": bob.id})
    assert [c["id"] for c in owned.json["items"]] == [bobs["id"]]

    await db_of(app).execute(
        "UPDATE companies SET updated_at = now() - interval '2 days' WHERE id <> :id", {"id": mine["id"]}
    )
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = await alice.get(base(org), query_string={"updated_since": since})
    assert [c["id"] for c in recent.json["items"]] == [mine["id"]]
    naive_z = await alice.get(f"{base(org)}?updated_since={quote('2000-01-01T00:00:00Z')}")
    assert len(naive_z.json["items"]) == 3


@pytest.mark.parametrize(
    "args",
    [
        {"sort": "name"},
        {"sort": "-created_at"},
        {"sort": "updated_at"},
        {"sort": "-name", "owner": "7"},
        {"sort": "name", "updated_since": "2026-01-01T00:00:00Z"},
        {"q": "acme"},
    ],
)
async def test_list_queries_are_served_by_indexes(app: Quart, org: dict[str, Any], args: dict[str, str]) -> None:
    params = parse_list_args(args, name_keys=1, filters=("owner",))
    query = companies_page_sql(org_id=org["id"], params=params)
    db = db_of(app)
    plans = []
    for sql, values in query.statements():
        async with db.transaction(force_rollback=True):
            # an empty table makes any plan cheap: forbid the ones that would hide a missing index
            await db.execute("SET LOCAL enable_seqscan = off")
            await db.execute("SET LOCAL enable_sort = off")
            plans.append("\n".join(row[0] for row in await db.fetch_all("EXPLAIN " + sql, values)))
    for plan in plans:
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan
    if set(args) == {"sort"} or "q" in args:
        # the index gives the order: no sort of the whole org (for q=, in the walk)
        assert "Sort" not in plans[0], plans[0]
    assert len(plans) == (2 if "q" in args else 1)


async def test_search_results_page_with_filters_and_sort(
    app: Quart, alice: User, bob: User, org: dict[str, Any]
) -> None:
    await Api(app).add_member(alice, org, bob, "member")
    wanted = [await create(alice, org, "companies", name=f"Northwind {i}", owner_id=bob.id) for i in range(5)]
    await create(alice, org, "companies", name="Northwind Alice", owner_id=alice.id)
    await create(alice, org, "companies", name="Southwind", owner_id=bob.id)

    pages = await walk(alice, base(org), q="north", owner=bob.id, sort="-created_at", limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c["id"] for p in pages for c in p] == [c["id"] for c in reversed(wanted)]
