"""Every tenant GET route reads through indexes: no Seq Scan on a tenant table.

One org holds a few thousand records among many orgs (1,000 orgs with pipelines,
members and rollup rows, 10 with records), the tables are ANALYZEd, and then each route is requested
through the app with its database swapped for a recorder. Every SELECT the
route ran is EXPLAINed (FORMAT JSON) with the values it ran with, and the plan
must not read a table that has an org_id (or orgs) whole: no Seq Scan, and no
index scan without an Index Cond. A table
of a few pages (orgs, stages, rollups at this size) is read whole by any sane
planner; there the statement is EXPLAINed again with enable_seqscan off, and a
Seq Scan that survives means no index can serve it.

The cases cover each list with every sort (first page and the keyset page
after it) and every filter, search, stats, the pipeline, and record GETs; a
second test fails when a GET route under /orgs/<org>/ has no case here, so a
new route cannot skip the plan check.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from databases import Database
from quart import Quart

from crm.seed import seed_bulk
from tests.helpers import User
from tests.plans import explain_generic

ORG_ROUTE = re.compile(r"^/api/v1/orgs/<org>")
SORTS = {
    "contacts": ["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"],
    "companies": ["name", "-name", "created_at", "-created_at", "updated_at", "-updated_at"],
    "deals": [
        "updated_at",
        "-updated_at",
        "created_at",
        "-created_at",
        "amount",
        "-amount",
        "expected_close_date",
        "title",
    ],
    "activities": ["due_at", "-due_at", "created_at", "-created_at"],
}
# Below this many pages a Seq Scan is the planner's right choice at this test's size, not a missing index.
SMALL_TABLE_PAGES = 10
NUMBERED = re.compile(r"\$(\d+)")
GENERIC_PLAN = re.compile(r"SET LOCAL plan_cache_mode = force_generic_plan", re.IGNORECASE)
SEARCHES = ["chen", "ada chen", "blue labs", "renewal", "a", "ada.chen1@example.com", "#12", "call about"]


@dataclass
class Statement:
    sql: str
    values: dict[str, Any]


class RecordingDatabase:
    """Stands in for the app's Database: records each statement, then runs it on the real one."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.statements: list[Statement] = []

    def _record(self, query: Any, values: Any) -> None:
        assert isinstance(query, str), f"plan check needs SQL text, got {type(query)}"
        self.statements.append(Statement(query, dict(values or {})))

    async def fetch_all(self, query: Any, values: Any = None) -> Any:
        self._record(query, values)
        return await self.inner.fetch_all(query, values)

    async def fetch_one(self, query: Any, values: Any = None) -> Any:
        self._record(query, values)
        return await self.inner.fetch_one(query, values)

    async def fetch_val(self, query: Any, values: Any = None, column: Any = 0) -> Any:
        self._record(query, values)
        return await self.inner.fetch_val(query, values, column)

    async def execute(self, query: Any, values: Any = None) -> Any:
        self._record(query, values)
        return await self.inner.execute(query, values)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """The task's connection, whose asyncpg connection records too (crm.db.fetch_all_numbered)."""
        async with self.inner.connection() as connection:
            yield SimpleNamespace(raw_connection=RecordingAsyncpg(self, connection.raw_connection))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingAsyncpg:
    """An asyncpg connection that records fetches ($1, $2 ... as :p1, :p2 ...), then runs them."""

    def __init__(self, recorder: RecordingDatabase, inner: Any) -> None:
        self.recorder = recorder
        self.inner = inner

    async def fetch(self, query: str, *args: Any) -> Any:
        self.recorder._record(NUMBERED.sub(r":p\1", query), {f"p{i}": arg for i, arg in enumerate(args, start=1)})
        return await self.inner.fetch(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        self.recorder._record(NUMBERED.sub(r":p\1", query), {f"p{i}": arg for i, arg in enumerate(args, start=1)})
        return await self.inner.execute(query, *args)

    def transaction(self) -> Any:
        return self.inner.transaction()


@contextmanager
def recording(app: Quart) -> Iterator[RecordingDatabase]:
    real = app.extensions["db"]
    recorder = RecordingDatabase(real)
    app.extensions["db"] = recorder
    try:
        yield recorder
    finally:
        app.extensions["db"] = real


async def tenant_tables(db: Database) -> set[str]:
    rows = await db.fetch_all(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'org_id'"
    )
    return {r["table_name"] for r in rows} | {"orgs"}


def seq_scans(plan: Any, tables: set[str]) -> list[str]:
    """Tenant tables read whole: a Seq Scan, or an index scan with no Index Cond (a full index walk)."""
    found: list[str] = []
    if isinstance(plan, dict):
        node = plan.get("Node Type")
        whole = node == "Seq Scan" or (node in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan)
        if whole and plan.get("Relation Name") in tables:
            found.append(plan["Relation Name"])
        for value in plan.values():
            found += seq_scans(value, tables)
    elif isinstance(plan, list):
        for value in plan:
            found += seq_scans(value, tables)
    return found


def is_read(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper()
    return head in ("SELECT", "WITH") and " FOR UPDATE" not in sql.upper()


async def seed_many_orgs(db: Database, database_url: str, org_id: int, owner_id: int) -> None:
    await db.execute(
        "INSERT INTO orgs (slug, name) SELECT 'plan-org-' || g, 'Plan org ' || g FROM generate_series(1, 1000) g"
    )
    await db.execute("INSERT INTO org_counters (org_id) SELECT id FROM orgs WHERE slug LIKE 'plan-org-%'")
    await db.execute(
        "INSERT INTO pipeline_stages (org_id, name, position, kind)"
        " SELECT o.id, s.name, s.position, s.kind FROM orgs o,"
        " (VALUES ('Lead', 0, 'open'), ('Proposal', 1, 'open'), ('Won', 2, 'won'), ('Lost', 3, 'lost'))"
        " AS s (name, position, kind) WHERE o.slug LIKE 'plan-org-%'"
    )
    # rollup rows for every org, as a real installation has, so that they are not a few pages either
    await db.execute(
        "INSERT INTO deal_stage_totals (org_id, stage_id) SELECT org_id, id FROM pipeline_stages"
        " WHERE org_id IN (SELECT id FROM orgs WHERE slug LIKE 'plan-org-%')"
    )
    await db.execute(
        "INSERT INTO deal_month_totals (org_id, kind, month) SELECT o.id, k.kind, m.month::date FROM orgs o,"
        " (VALUES ('won'), ('lost'), ('closing')) AS k (kind),"
        " generate_series(date '2025-01-01', date '2026-12-01', interval '1 month') AS m (month)"
        " WHERE o.slug LIKE 'plan-org-%'"
    )
    await db.execute(
        "INSERT INTO users (email, name) SELECT 'plan-user-' || g || '@example.com', 'Plan user ' || g"
        " FROM generate_series(1, 60) g"
    )
    await db.execute(
        "INSERT INTO memberships (org_id, user_id, role) SELECT o.id, u.id, 'member' FROM orgs o"
        " JOIN users u ON u.email LIKE 'plan-user-%' AND (u.id + o.id) % 12 = 0"
    )
    others = await db.fetch_all("SELECT id FROM orgs WHERE slug LIKE 'plan-org-%' ORDER BY id LIMIT 9")
    for other in others:
        await seed_bulk(
            database_url,
            org_id=other["id"],
            owner_id=None,
            contacts=3000,
            companies=300,
            deals=3000,
            activities=2000,
            seed=other["id"],
        )
    await seed_bulk(
        database_url, org_id=org_id, owner_id=owner_id, contacts=3000, companies=300, deals=3000, activities=2000
    )
    await db.execute("ANALYZE")


class PlanChecker:
    def __init__(self, app: Quart, user: User, org: dict[str, Any]) -> None:
        self.app = app
        self.user = user
        self.org = org
        self.db: Database = app.extensions["db"]
        self.problems: list[str] = []
        self.covered: set[str] = set()
        self.tables: set[str] = set()
        self.pages: dict[str, int] = {}
        self.generic_plans = 0  # statements checked in the generic plan they run with

    def path(self, tail: str, **params: Any) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"/api/v1/orgs/{self.org['slug']}{tail}{query}"

    async def check(self, tail: str, *, expect: int = 200, **params: Any) -> Any:
        """Request the route, EXPLAIN what it ran; answer the JSON body."""
        path = self.path(tail, **params)
        await self.forget_cached_views()
        with recording(self.app) as recorder:
            response = await self.user.get(path)
        adapter = self.app.url_map.bind("localhost")
        rule, _ = adapter.match(path.split("?")[0], method="GET", return_rule=True)
        self.covered.add(rule.rule)
        if response.status != expect:
            self.problems.append(f"{path}: status {response.status} {response.json}")
            return response.json
        reads = [s for s in recorder.statements if is_read(s.sql)]
        tenant_reads = [s for s in reads if any(re.search(rf"\b{t}\b", s.sql) for t in self.tables - {"orgs"})]
        if not tenant_reads:
            self.problems.append(f"{path}: ran no tenant SELECT (served from a cache?): nothing was checked")
        for statement in reads:
            generic = self.runs_generic(recorder.statements, statement)
            self.generic_plans += generic
            scans = seq_scans(await self.explain(statement, generic=generic), self.tables)
            if scans and all(self.pages.get(table, 0) < SMALL_TABLE_PAGES for table in scans):
                # a few pages: the planner rightly reads them whole; demand only that an index could serve
                scans = seq_scans(await self.explain(statement, index_only=True, generic=generic), self.tables)
            if scans:
                self.problems.append(f"{path}: Seq Scan on {sorted(set(scans))} in:\n{statement.sql.strip()}")
        return response.json

    async def forget_cached_views(self) -> None:
        """Drop the org's cached views (and generations) so that the route runs its SQL."""
        client = self.app.extensions["redis"].client
        for pattern in (f"tc:{{{self.org['id']}}}:*", f"tc:{self.org['id']}:*"):
            keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
            if keys:
                await client.delete(*keys)

    @staticmethod
    def runs_generic(statements: list[Statement], statement: Statement) -> bool:
        """Whether the route ran `statement` right after forcing a generic plan (as search does)."""
        at = next(i for i, s in enumerate(statements) if s is statement)
        return at > 0 and GENERIC_PLAN.fullmatch(statements[at - 1].sql.strip()) is not None

    async def explain(self, statement: Statement, *, index_only: bool = False, generic: bool = False) -> Any:
        async with self.db.transaction():
            if index_only:  # seq scans then cost 1e10 each: one remains only where no index applies
                await self.db.execute("SET LOCAL enable_seqscan = off")
            if generic:
                return await explain_generic(self.db, statement.sql, statement.values)
            rows = await self.db.fetch_all("EXPLAIN (FORMAT JSON) " + statement.sql, statement.values)
        plan = rows[0][0]
        return plan if isinstance(plan, list) else json.loads(plan)


async def check_list_with_sorts(checker: PlanChecker, kind: str) -> None:
    for sort in SORTS[kind]:
        first = await checker.check(f"/{kind}", sort=sort, limit=25)
        cursor = (first or {}).get("next_cursor")
        assert cursor, f"{kind} sorted by {sort} has a second page"
        await checker.check(f"/{kind}", sort=sort, limit=25, cursor=cursor)


@pytest.fixture
async def checker(app: Quart, alice: User, org: dict[str, Any], database_url: str) -> PlanChecker:
    plan_checker = PlanChecker(app, alice, org)
    await seed_many_orgs(plan_checker.db, database_url, org["id"], alice.id)
    plan_checker.tables = await tenant_tables(plan_checker.db)
    rows = await plan_checker.db.fetch_all(
        "SELECT relname, relpages FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
    )
    plan_checker.pages = {r["relname"]: r["relpages"] for r in rows}
    return plan_checker


async def one_id(db: Database, table: str, org_id: int) -> int:
    value = await db.fetch_val(f"SELECT id FROM {table} WHERE org_id = :org ORDER BY id LIMIT 1", {"org": org_id})
    assert value is not None, table
    return int(value)


async def test_tenant_routes_use_indexes(checker: PlanChecker, org: dict[str, Any], alice: User) -> None:
    db, org_id = checker.db, org["id"]
    contact, company = await one_id(db, "contacts", org_id), await one_id(db, "companies", org_id)
    deal, activity = await one_id(db, "deals", org_id), await one_id(db, "activities", org_id)
    stage = await one_id(db, "pipeline_stages", org_id)
    since = "2020-01-01T00:00:00Z"

    for kind in SORTS:
        await check_list_with_sorts(checker, kind)
    # q= pages walk the sort order, then (a rare word: "quokka" matches nothing) read the full-text index
    for params in [
        {"owner": alice.id},
        {"company": company},
        {"updated_since": since},
        {"q": "chen"},
        {"q": "quokka", "sort": "-updated_at"},
        {"q": "quokka", "owner": alice.id},
    ]:
        await checker.check("/contacts", **params)
    for params in [{"owner": alice.id}, {"updated_since": since}, {"q": "blue"}, {"q": "quokka"}]:
        await checker.check("/companies", **params)
    for params in [
        {"stage": stage},
        {"stage": stage, "sort": "-amount"},
        {"owner": alice.id},
        {"owner": "me"},
        {"company": company},
        {"contact": contact},
        {"updated_since": since},
        {"status": "open"},
        {"status": "won"},
        {"status": "lost"},
        {"q": "renewal"},
        {"q": "quokka", "stage": stage, "sort": "title"},
    ]:
        await checker.check("/deals", **params)
    for params in [
        {"deal": deal},
        {"contact": contact},
        {"company": company},
        {"owner": "me"},
        {"done": "false"},
        {"done": "true"},
        {"due_before": "2030-01-01T00:00:00Z"},
        {"due_after": since},
        {"type": "task"},
        {"done": "false", "sort": "due_at"},
        {"q": "call"},
        {"q": "quokka"},
    ]:
        await checker.check("/activities", **params)
    for q in SEARCHES:
        await checker.check("/search", q=q)
    await checker.check("/search", q="chen", limit=200)
    await checker.check("/dashboard/stats")
    await checker.check("/dashboard/won-over-time", months=24)
    await checker.check("/pipeline")
    await checker.check("/pipeline", owner="me", q="renewal")
    await checker.check("/stages")
    await checker.check(f"/contacts/{contact}")
    await checker.check(f"/companies/{company}")
    await checker.check(f"/deals/{deal}")
    await checker.check(f"/activities/{activity}")
    await checker.check("")
    await checker.check("/members")

    # the other tenant lists: chat, inbox, invitations, API keys
    channel = await alice.post(f"/api/v1/orgs/{org['slug']}/channels", json={"name": "general"})
    assert channel.status == 201, channel.json
    channel_id = channel.json["id"]
    for n in range(3):
        posted = await alice.post(
            f"/api/v1/orgs/{org['slug']}/channels/{channel_id}/messages", json={"body": f"renewal note {n}"}
        )
        assert posted.status in (200, 201), posted.json
    await checker.check("/channels")
    await checker.check(f"/channels/{channel_id}")
    await checker.check(f"/channels/{channel_id}/messages")
    await checker.check("/chat/search", q="renewal")
    await checker.check(f"/deals/{deal}/thread")
    await checker.check("/notifications")
    await checker.check("/notifications/settings")
    await checker.check("/invitations")
    await checker.check("/api-keys")

    assert not checker.problems, "\n\n".join(checker.problems)
    assert checker.generic_plans >= len(SEARCHES), "search's generic plans were not checked"
    uncovered = {
        rule.rule for rule in checker.app.url_map.iter_rules() if "GET" in rule.methods and ORG_ROUTE.match(rule.rule)
    } - checker.covered
    assert not uncovered, f"GET routes without a plan check: {sorted(uncovered)}"
