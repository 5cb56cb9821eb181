"""The org-scoped full-text keys (migration 0011) and the search plan that reads them only when needed."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from databases import Database
from quart import Quart

from crm.search import queries
from crm.search.service import build_tsquery
from tests.plans import explain_generic, plan_nodes


async def matches(sql: asyncpg.Connection, doc_org: int, text: str, query_org: int, query: str) -> bool:
    return bool(
        await sql.fetchval(
            "SELECT tenant_tsvector($1, to_tsvector('simple', $2)) @@ tenant_tsquery($3, to_tsquery('simple', $4))",
            doc_org,
            text,
            query_org,
            query,
        )
    )


async def test_a_key_matches_only_a_query_of_the_same_org(sql: asyncpg.Connection) -> None:
    assert await matches(sql, 12, "Ada Chen", 12, "'ad':* & 'chen'")
    assert not await matches(sql, 12, "Ada Chen", 1, "'ad':* & 'chen'")
    assert not await matches(sql, 1, "Ada Chen", 12, "'ada'")
    assert not await matches(sql, 12, "Ada Chen", 12, "'ada' & 'lovelace':*")


async def test_query_lexemes_keep_their_quotes_and_operators(sql: asyncpg.Connection) -> None:
    text = await sql.fetchval("SELECT CAST(tenant_tsquery(5, CAST($1 AS tsquery)) AS text)", "'o''b':* & !'x' | 'y'")
    assert text == "'5:o''b':* & !'5:x' | '5:y'"


async def test_a_lexeme_too_long_for_the_prefix_is_left_out(sql: asyncpg.Connection) -> None:
    key = await sql.fetchval(
        "SELECT CAST(tenant_tsvector(123456, to_tsvector('simple', repeat('x', 2045) || ' ok')) AS text)"
    )
    assert key == "'123456:ok'"


async def test_every_kind_stores_its_key(sql: asyncpg.Connection, org: dict[str, Any]) -> None:
    stage = await sql.fetchval("SELECT id FROM pipeline_stages WHERE org_id = $1 LIMIT 1", org["id"])
    await sql.execute(
        "INSERT INTO companies (org_id, name, domain) VALUES ($1, 'Wombat Works', 'wombat.example')", org["id"]
    )
    await sql.execute(
        "INSERT INTO contacts (org_id, first_name, last_name, email, title)"
        " VALUES ($1, 'Wendy', 'Wombat', 'wendy@wombat.example', 'Buyer')",
        org["id"],
    )
    await sql.execute(
        "INSERT INTO deals (org_id, title, stage_id, position) VALUES ($1, 'Wombat renewal', $2, 'a1')",
        org["id"],
        stage,
    )
    await sql.execute("INSERT INTO activities (org_id, type, subject) VALUES ($1, 'call', 'Call Wombat')", org["id"])
    for table in ("companies", "contacts", "deals", "activities"):
        found = await sql.fetchval(
            f"SELECT count(*) FROM {table} WHERE search_key @@ tenant_tsquery($1, to_tsquery('simple', 'wombat:*'))",
            org["id"],
        )
        assert found == 1, table
    key = await sql.fetchval("SELECT CAST(search_key AS text) FROM contacts WHERE org_id = $1", org["id"])
    prefix = f"{org['id']}:"
    # names, title, the whole address and its domain; not the local part on its own
    assert set(key.replace("'", "").split()) == {
        prefix + word for word in ("wendy", "wombat", "buyer", "wendy@wombat.example", "wombat.example")
    }


def fts_loops(plan: Any) -> dict[str, int]:
    """Executions of each kind's full-text index scan in an EXPLAIN ANALYZE plan."""
    return {
        node["Index Name"]: node["Actual Loops"]
        for node in plan_nodes(plan)
        if node.get("Index Name", "").endswith("_search_key_idx")
    }


@pytest.fixture
def db(app: Quart) -> Database:
    database: Database = app.extensions["db"]
    return database


async def test_the_full_text_index_is_read_only_when_name_prefixes_leave_room(
    db: Database, sql: asyncpg.Connection, org: dict[str, Any]
) -> None:
    for last in ("Adams", "Baker", "Chen"):
        await sql.execute(
            "INSERT INTO contacts (org_id, first_name, last_name) VALUES ($1, 'Quill', $2)", org["id"], last
        )
    values = queries.search_values(org_id=org["id"], tsquery=build_tsquery(["quill"]), prefix="quill", limit=3)
    full_page = fts_loops(await explain_generic(db, queries.SEARCH_SQL, values, analyze=True))
    assert full_page["contacts_search_key_idx"] == 0  # three prefix candidates fill a page of three
    assert full_page["companies_search_key_idx"] == 1  # no company name starts with it
    values["limit"] = 4
    room_left = fts_loops(await explain_generic(db, queries.SEARCH_SQL, values, analyze=True))
    assert room_left["contacts_search_key_idx"] == 1
