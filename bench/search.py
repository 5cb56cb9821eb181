"""`python -m bench search`: search and list pages at 100k contacts, cached and uncached, against a record GET.

One org holds 100k contacts (plus 10k companies, 20k deals, 10k activities), seeded
with crm.seed.seed_bulk and ANALYZEd, in one uvicorn worker. For each family wrk
loads either a few URLs over and over (cached: nearly every request a hit) or
thousands of distinct URLs seen once (uncached: every request a miss that queries
PostgreSQL). Ratios are p95 against the record GET `/contacts/{id}` in the same state
(cached against cached, uncached against uncached).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any
from urllib.parse import urlencode

import asyncpg

from bench import common
from crm.seed import COMPANY_A, COMPANY_B, FIRST, LAST, seed_bulk


async def seed(database_url: str, tenant: common.Tenant, contacts: int) -> list[int]:
    started = time.monotonic()
    await seed_bulk(
        database_url,
        org_id=tenant.org["id"],
        owner_id=tenant.user_id,
        contacts=contacts,
        companies=contacts // 10,
        deals=contacts // 5,
        activities=contacts // 10,
    )
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("VACUUM ANALYZE")
        ids = await conn.fetchval(
            "SELECT array_agg(id) FROM (SELECT id FROM contacts WHERE org_id = $1 ORDER BY random() LIMIT 20000) c",
            tenant.org["id"],
        )
    finally:
        await conn.close()
    print(f"seeded {contacts} contacts in {time.monotonic() - started:.0f} s")
    return list(ids)


def families(org: str, contact_ids: list[int], rng: random.Random) -> dict[str, list[str]]:
    def url(tail: str, **params: Any) -> str:
        return f"{org}{tail}?{urlencode(params)}" if params else f"{org}{tail}"

    words = [f"{first} {last}" for first in FIRST for last in LAST] + LAST + FIRST
    words += [f"{a} {b}" for a in COMPANY_A for b in COMPANY_B]
    sets = {
        "record GET /contacts/{id}": [url(f"/contacts/{i}") for i in contact_ids],
        "search ?q=": [url("/search", q=q, limit=limit) for q in words for limit in range(5, 31)],
        "list /contacts?q=": [url("/contacts", q=q, limit=limit) for q in words for limit in range(20, 51)],
        "list /contacts?company=": [
            url("/contacts", company=c, limit=limit) for c in range(1, 2001) for limit in (25, 50)
        ],
    }
    for paths in sets.values():
        rng.shuffle(paths)
    return sets


async def bench(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    results: dict[tuple[str, str], common.WrkResult] = {}
    async with common.bench_database("search") as database_url:
        with common.uvicorn_server("crm.asgi:app", common.app_env(database_url)) as server:
            tenant = common.new_tenant(server.base_url)
            contact_ids = await seed(database_url, tenant, args.contacts)
            sets = families(f"/api/v1/orgs/{tenant.org['slug']}", contact_ids, rng)

            def load(paths: list[str]) -> common.WrkResult:
                result = common.run_wrk(
                    server.base_url,
                    paths,
                    headers=tenant.headers,
                    duration=args.duration,
                    connections=args.connections,
                    count_hits=True,
                )
                common.check_clean(paths[0], result)
                return result

            for name, paths in sets.items():
                hot, cold = paths[:10], paths[10:]
                common.run_wrk(server.base_url, hot, headers=tenant.headers, duration=1, connections=2)
                results[(name, "cached")] = load(hot)
                results[(name, "uncached")] = load(cold)

    print(f"machine: {common.machine()}")
    print(f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s each; {args.contacts} contacts")
    print(
        f"{'endpoint':<28} {'state':<9} {'requests':>8} {'hits':>6}"
        f" {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95 ratio':>9}"
    )
    for (name, state), r in results.items():
        baseline = results[("record GET /contacts/{id}", state)].p95_ms
        print(
            f"{name:<28} {state:<9} {r.requests:>8} {r.cache_hits:>6} {r.p50_ms:>7.2f} {r.p95_ms:>7.2f}"
            f" {r.p99_ms:>7.2f} {r.p95_ms / baseline:>8.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    common.run_async(bench(parser.parse_args()))
