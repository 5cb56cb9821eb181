"""A q= list page: a short walk of the sort order, else every match through the full-text index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest
from databases import Database
from quart import Quart

from crm import listpages
from crm.companies.listing import parse_list_args
from crm.contacts.queries import select_contacts_page
from crm.db import fetch_all_numbered as real_fetch_all_numbered
from crm.deals import queries as deals
from crm.listpages import WALK_PAGES
from tests.companies.support import walk
from tests.helpers import User


class CountingDatabase:
    """The real Database, counting the statements a page runs (pages run them through
    crm.db.fetch_all_numbered, which the `counting` fixture routes here)."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.statements: list[str] = []

    def connection(self) -> Any:
        return self.inner.connection()


@pytest.fixture
def counting(db: Database, monkeypatch: pytest.MonkeyPatch) -> CountingDatabase:
    found = CountingDatabase(db)

    async def fetch_all_numbered(database: Any, sql: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        assert database is found
        found.statements.append(sql)
        return await real_fetch_all_numbered(found.inner, sql, values)

    monkeypatch.setattr(listpages, "fetch_all_numbered", fetch_all_numbered)
    return found


@pytest.fixture
def db(app: Quart) -> Database:
    database: Database = app.extensions["db"]
    return database


async def add_contacts(sql: asyncpg.Connection, org_id: int, people: list[tuple[str, str, str]]) -> list[int]:
    rows = await sql.fetch(
        "INSERT INTO contacts (org_id, first_name, last_name, title)"
        " SELECT $1, f, l, t FROM unnest($2::text[], $3::text[], $4::text[]) AS p (f, l, t) RETURNING id",
        org_id,
        [p[0] for p in people],
        [p[1] for p in people],
        [p[2] for p in people],
    )
    return [r["id"] for r in rows]


# More non-matching names before the Zimmers than a walk for pages of one reads.
FILLER = [("Aaron", f"Abbot{i:02}", "Buyer") for i in range(2 * WALK_PAGES + 5)]
ZIMMERS = [("Zed", "Zimmer", "Buyer"), ("Ann", "Zimmer", "CTO"), ("Bo", "Zimmerman", "Buyer")]


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-updated_at"])
async def test_rare_matches_far_along_the_order_page_completely_and_in_order(
    sql: asyncpg.Connection, alice: User, org: dict[str, Any], sort: str
) -> None:
    await add_contacts(sql, org["id"], FILLER[: len(FILLER) // 2])
    zimmers = await add_contacts(sql, org["id"], ZIMMERS)
    await add_contacts(sql, org["id"], FILLER[len(FILLER) // 2 :])
    pages = await walk(alice, f"/api/v1/orgs/{org['slug']}/contacts", q="zimm", sort=sort, limit=1)
    found = [c["id"] for page in pages for c in page]
    if sort.lstrip("-") == "name":  # last name, then first name
        in_order = [zimmers[1], zimmers[0], zimmers[2]]
        assert found == (in_order[::-1] if sort.startswith("-") else in_order)
    else:
        assert sorted(found) == sorted(zimmers)
        assert found == (sorted(found, reverse=True) if sort.startswith("-") else sorted(found))


async def test_a_walk_that_fills_the_page_answers_alone(
    counting: Any, sql: asyncpg.Connection, org: dict[str, Any]
) -> None:
    await add_contacts(sql, org["id"], FILLER + ZIMMERS)
    common = parse_list_args({"q": "buyer", "limit": "5"}, name_keys=2, filters=("owner", "company"))
    rows = await select_contacts_page(counting, org_id=org["id"], params=common)
    assert [r["last_name"] for r in rows] == [f"Abbot{i:02}" for i in range(6)]
    assert len(counting.statements) == 1

    counting.statements.clear()
    rare = parse_list_args({"q": "zimmer", "limit": "5"}, name_keys=2, filters=("owner", "company"))
    rows = await select_contacts_page(counting, org_id=org["id"], params=rare)
    assert [(r["first_name"], r["last_name"]) for r in rows] == [
        ("Ann", "Zimmer"),
        ("Zed", "Zimmer"),
        ("Bo", "Zimmerman"),
    ]
    assert len(counting.statements) == 2  # the walk found two of six, the full-text statement all


async def test_deals_and_their_filters_page_through_the_same_two_steps(
    counting: Any, sql: asyncpg.Connection, org: dict[str, Any]
) -> None:
    stage = await sql.fetchval("SELECT id FROM pipeline_stages WHERE org_id = $1 ORDER BY position LIMIT 1", org["id"])
    await sql.execute(
        "INSERT INTO deals (org_id, title, stage_id, position)"
        " SELECT $1, CASE WHEN g > 40 THEN 'Zeppelin refit ' ELSE 'Annual plan ' END || g,"
        " $2, 'a' || lpad(g::text, 3, '0')"
        " FROM generate_series(1, 45) g",
        org["id"],
        stage,
    )
    filters = deals.DealFilters(stage_id=stage, tsquery="zeppelin:*")
    rows = await deals.select_deals_page(counting, org_id=org["id"], filters=filters, sort="title", after=None, limit=2)
    assert [r["title"] for r in rows] == ["Zeppelin refit 41", "Zeppelin refit 42", "Zeppelin refit 43"]
    assert len(counting.statements) == 2
