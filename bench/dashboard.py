"""`python -m bench dashboard`: dashboard stats, cached and uncached, at 1M deals.

One org holds 1M deals (plus 100k contacts, 10k companies, 50k activities), seeded
with crm.seed.seed_bulk and ANALYZEd, in one uvicorn worker. wrk measures, in the
same run and server:

- cached `/dashboard/stats` (every request a hit) against `/healthz`, a static JSON
  route of the same app: p50 ratio, target <= 1.3x;
- uncached stats (each request a distinct, ignored query parameter, so each is a
  miss that computes from PostgreSQL) against a record GET by primary key (distinct
  deal ids, each a miss too): p95 ratio, target <= 2x.
"""

from __future__ import annotations

import argparse
import time

import asyncpg

from bench import common
from crm.seed import seed_bulk


async def seed(database_url: str, tenant: common.Tenant, deals: int) -> list[int]:
    started = time.monotonic()
    await seed_bulk(
        database_url,
        org_id=tenant.org["id"],
        owner_id=tenant.user_id,
        contacts=deals // 10,
        companies=deals // 100,
        deals=deals,
        activities=deals // 20,
    )
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("VACUUM ANALYZE")
        ids = await conn.fetchval(
            "SELECT array_agg(id) FROM (SELECT id FROM deals WHERE org_id = $1 ORDER BY random() LIMIT 20000) d",
            tenant.org["id"],
        )
    finally:
        await conn.close()
    print(f"seeded {deals} deals in {time.monotonic() - started:.0f} s")
    return list(ids)


def row(name: str, result: common.WrkResult, ratio: str) -> str:
    return (
        f"{name:<40} {result.requests:>8} {result.cache_hits:>6} {result.p50_ms:>7.2f}"
        f" {result.p95_ms:>7.2f} {result.p99_ms:>7.2f} {ratio:>9}"
    )


async def bench(args: argparse.Namespace) -> None:
    async with common.bench_database("dashboard") as database_url:
        with common.uvicorn_server("crm.asgi:app", common.app_env(database_url)) as server:
            tenant = common.new_tenant(server.base_url)
            deal_ids = await seed(database_url, tenant, args.deals)
            org = f"/api/v1/orgs/{tenant.org['slug']}"

            def load(paths: list[str], count_hits: bool = True) -> common.WrkResult:
                # warm up on the tail, measure the rest: URLs meant to miss stay unseen
                warm, measured = (paths[-100:], paths[:-100]) if len(paths) > 200 else (paths, paths)
                common.run_wrk(server.base_url, warm, headers=tenant.headers, duration=1, connections=2)
                result = common.run_wrk(
                    server.base_url,
                    measured,
                    headers=tenant.headers,
                    duration=args.duration,
                    connections=args.connections,
                    count_hits=count_hits,
                )
                common.check_clean(paths[0], result)
                return result

            static = load(["/healthz"], count_hits=False)
            cached = load([f"{org}/dashboard/stats"])
            misses = [f"{org}/dashboard/stats?run={n}" for n in range(args.distinct)]
            record = load([f"{org}/deals/{i}" for i in deal_ids[: args.distinct]])
            uncached = load(misses)

    print(f"machine: {common.machine()}")
    print(f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s each; {args.deals} deals")
    print(f"{'endpoint':<40} {'requests':>8} {'hits':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'ratio':>9}")
    print(row("static JSON /healthz", static, "1.00x p50"))
    print(row("cached /dashboard/stats", cached, f"{cached.p50_ms / static.p50_ms:.2f}x p50"))
    print(row("record GET /deals/{id} (miss)", record, "1.00x p95"))
    print(row("uncached /dashboard/stats (miss)", uncached, f"{uncached.p95_ms / record.p95_ms:.2f}x p95"))
    print("targets: cached stats p50 <= 1.3x static; uncached stats p95 <= 2x record GET")
    if uncached.cache_hits or record.cache_hits > record.requests // 100:
        print(f"note: {uncached.cache_hits} uncached stats and {record.cache_hits} record requests were hits")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard", description=__doc__)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=8, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--distinct", type=int, default=20000, help="distinct URLs for the miss measurements")
    common.run_async(bench(parser.parse_args()))
