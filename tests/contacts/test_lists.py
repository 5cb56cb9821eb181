from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart

from crm.companies.listing import parse_list_args
from crm.contacts.queries import contacts_page_sql
from tests.companies.support import create, db_of, walk
from tests.helpers import Api, User

SORTS = ["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"]
PEOPLE = [
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Grace", "Hopper"),
    ("ada", "Byron"),
    ("Zed", "Lovelace"),
    ("Cher", ""),
    ("", "Knuth"),
    ("Barbara", "Liskov"),
    ("Edsger", "Dijkstra"),
    ("Adam", "lovelace"),
    ("Ken", "Thompson"),
]


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/contacts"


def key_of(sort: str, contact: dict[str, Any]) -> tuple[Any, ...]:
    field = sort.lstrip("-")
    if field == "name":
        return (contact["last_name"].lower(), contact["first_name"].lower(), contact["id"])
    return (contact[field], contact["id"])


@pytest.fixture
async def contacts(alice: User, org: dict[str, Any]) -> list[dict[str, Any]]:
    made = [await create(alice, org, "contacts", first_name=f, last_name=last) for f, last in PEOPLE]
    for index in (0, 7, 3):
        response = await alice.patch(f"{base(org)}/{made[index]['id']}", json={"title": "CTO", "version": 1})
        made[index] = response.json
    return made


@pytest.mark.parametrize("sort", SORTS)
async def test_pages_walk_every_contact_exactly_once_in_order(
    alice: User, org: dict[str, Any], contacts: list[dict[str, Any]], sort: str
) -> None:
    pages = await walk(alice, base(org), limit=4, sort=sort)
    assert [len(p) for p in pages] == [4, 4, 3]
    seen = [c for p in pages for c in p]
    expected = sorted(contacts, key=lambda c: key_of(sort, c), reverse=sort.startswith("-"))
    assert [c["id"] for c in seen] == [c["id"] for c in expected]


async def test_default_order_is_last_name_then_first_name(
    alice: User, org: dict[str, Any], contacts: list[dict[str, Any]]
) -> None:
    items = (await alice.get(base(org))).json["items"]
    lovelaces = [c["first_name"] for c in items if c["last_name"].lower() == "lovelace"]
    assert lovelaces == ["Ada", "Adam", "Zed"]
    assert items[0]["first_name"] == "Cher"  # no last name sorts first


async def test_search_finds_by_prefix_of_name_email_and_title_within_the_org(
    app: Quart, alice: User, bob: User
) -> None:
    org = await alice.create_org("Alice Org")
    bobs_org = await bob.create_org("Bob Org")
    grace = await create(alice, org, "contacts", first_name="Grace", last_name="Hopper", email="grace@navy.example")
    await create(alice, org, "contacts", first_name="Alan", last_name="Turing", title="Codebreaker")
    await create(bob, bobs_org, "contacts", first_name="Grace", last_name="Hopper")

    async def found(q: str) -> list[int]:
        response = await alice.get(base(org), query_string={"q": q})
        assert response.status == 200, response.json
        return [c["id"] for c in response.json["items"]]

    assert await found("gra") == [grace["id"]]
    assert await found("hop gr") == [grace["id"]]
    assert await found("grace@navy.exa") == [grace["id"]]
    assert await found("navy") == [grace["id"]]
    assert len(await found("code")) == 1
    assert await found("grace turing") == []
    assert await found("gra:*|tur") == []


async def test_owner_company_and_updated_since_filters(app: Quart, alice: User, bob: User, org: dict[str, Any]) -> None:
    await Api(app).add_member(alice, org, bob, "member")
    acme = await create(alice, org, "companies", name="Acme")
    at_acme = await create(alice, org, "contacts", first_name="Ann", company_id=acme["id"])
    bobs = await create(alice, org, "contacts", first_name="Ben", owner_id=bob.id)
    both = await create(alice, org, "contacts", first_name="Cy", owner_id=bob.id, company_id=acme["id"])

    async def ids(**query: Any) -> list[int]:
        response = await alice.get(base(org), query_string=query)
        assert response.status == 200, response.json
        return [c["id"] for c in response.json["items"]]

    assert await ids(company=acme["id"]) == [at_acme["id"], both["id"]]
    assert await ids(owner=bob.id) == [bobs["id"], both["id"]]
    assert await ids(owner=bob.id, company=acme["id"]) == [both["id"]]
    assert await ids(company=acme["id"] + 999) == []

    await db_of(app).execute(
        "UPDATE contacts SET updated_at = now() - interval '3 days' WHERE id <> :id", {"id": bobs["id"]}
    )
    assert await ids(updated_since=(datetime.now(UTC) - timedelta(days=1)).isoformat()) == [bobs["id"]]
    assert len(await ids(updated_since="2000-01-01")) == 3


@pytest.mark.parametrize(
    "args",
    [
        {"sort": "name"},
        {"sort": "-name"},
        {"sort": "created_at"},
        {"sort": "-updated_at"},
        {"company": "3"},
        {"owner": "5", "sort": "-created_at"},
        {"q": "grace"},
    ],
)
async def test_list_queries_are_served_by_indexes(app: Quart, org: dict[str, Any], args: dict[str, str]) -> None:
    params = parse_list_args(args, name_keys=2, filters=("owner", "company"))
    query = contacts_page_sql(org_id=org["id"], params=params)
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
