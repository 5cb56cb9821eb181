"""`python -m bench lists`: list, filtered list and search p95 against a record GET, at volume.

One org holds 100k contacts and 100k deals (plus 10k companies, 20k activities)
among 20 orgs (the other 19 hold 5k contacts and 5k deals each), seeded with
crm.seed.seed_bulk and ANALYZEd. Each endpoint family is loaded by wrk with a
shuffled set of distinct requests (ids, pages via cursors, page sizes, filters,
search words) so that nearly every request is a cache miss; the table shows
p50/p95/p99 and each p95 as a ratio to the record GET's p95 (target <= 1.5x).
"""

from __future__ import annotations

import argparse
import random
import time
from statistics import median
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from bench import common
from crm.seed import COMPANY_A, COMPANY_B, FIRST, LAST, seed_bulk

OTHER_ORGS = 19
BASELINE = "record GET /contacts/{id}"


async def seed(database_url: str, tenant: common.Tenant, others: list[dict[str, Any]], size: int) -> None:
    started = time.monotonic()
    await seed_bulk(
        database_url,
        org_id=tenant.org["id"],
        owner_id=tenant.user_id,
        contacts=size,
        companies=size // 10,
        deals=size,
        activities=size // 5,
    )
    for org in others:
        await seed_bulk(
            database_url,
            org_id=org["id"],
            owner_id=tenant.user_id,
            contacts=size // 20,
            companies=size // 200,
            deals=size // 20,
            activities=size // 100,
        )
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("VACUUM ANALYZE")
        ids = await conn.fetch(
            "SELECT (SELECT array_agg(id) FROM"
            "  (SELECT id FROM contacts WHERE org_id = $1 ORDER BY random() LIMIT 20000) c),"
            " (SELECT array_agg(id) FROM"
            "  (SELECT id FROM companies WHERE org_id = $1 ORDER BY random() LIMIT 4000) c),"
            " (SELECT array_agg(id) FROM pipeline_stages WHERE org_id = $1 AND kind = 'open')",
            tenant.org["id"],
        )
    finally:
        await conn.close()
    tenant.org["contact_ids"], tenant.org["company_ids"], tenant.org["open_stages"] = ids[0]
    print(
        f"seeded {size} contacts and {size} deals in one org among {len(others) + 1}"
        f" in {time.monotonic() - started:.0f} s"
    )


def cursors(base_url: str, tenant: common.Tenant, path: str, sort: str, pages: int, **filters: Any) -> list[str | None]:
    found: list[str | None] = [None]
    with httpx.Client(base_url=base_url, headers=tenant.headers, timeout=30) as client:
        while len(found) < pages:
            params: dict[str, str | int] = {"sort": sort, "limit": 50, **filters}
            if found[-1]:
                params["cursor"] = found[-1]
            response = client.get(path, params=params)
            response.raise_for_status()
            next_cursor = response.json()["next_cursor"]
            if not next_cursor:
                break
            found.append(next_cursor)
    return found


def path_sets(base_url: str, tenant: common.Tenant, rng: random.Random, count: int) -> dict[str, list[str]]:
    org = f"/api/v1/orgs/{tenant.org['slug']}"

    def url(tail: str, **params: Any) -> str:
        return f"{org}{tail}?{urlencode({k: v for k, v in params.items() if v is not None})}"

    # enough pages that each family offers ~18k distinct requests: a quiet machine serves
    # ~3k-6k per 5 s round, and a request repeated within the TTL would be a cache hit
    contact_pages = cursors(base_url, tenant, f"{org}/contacts", "name", 600)
    deal_pages = cursors(base_url, tenant, f"{org}/deals", "-updated_at", 600)
    # the first pages of each open stage in each order (a page of 50's cursor serves any page size)
    stage_pages = {
        (stage, sort): cursors(base_url, tenant, f"{org}/deals", sort, 12, stage=stage)
        for stage in tenant.org["open_stages"]
        for sort in ("-updated_at", "-amount", "created_at", "expected_close_date")
    }
    sets: dict[str, list[str]] = {
        BASELINE: [f"{org}/contacts/{i}" for i in tenant.org["contact_ids"][:count]],
        "list /contacts (name)": [
            url("/contacts", sort="name", limit=limit, cursor=cursor)
            for cursor in contact_pages
            for limit in range(20, 51)
        ],
        "list /deals (-updated_at)": [
            url("/deals", sort="-updated_at", limit=limit, cursor=cursor)
            for cursor in deal_pages
            for limit in range(20, 51)
        ],
        "filtered /deals?stage=": [
            url("/deals", stage=stage, sort=sort, limit=limit, cursor=cursor)
            for (stage, sort), pages in stage_pages.items()
            for cursor in pages
            for limit in range(10, 101)
        ],
        "filtered /contacts?company=": [
            url("/contacts", company=c, limit=limit) for c in tenant.org["company_ids"] for limit in (20, 30, 40, 50)
        ],
        "search ?q=": [
            url("/search", q=q, limit=limit)
            for q in [f"{first} {last}" for first in FIRST for last in LAST]
            + LAST
            + [f"{a} {b}" for a in COMPANY_A for b in COMPANY_B]
            for limit in range(5, 31)
        ],
    }
    for paths in sets.values():
        rng.shuffle(paths)
        del paths[count:]
    return sets


async def bench(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    async with common.bench_database("lists") as database_url:
        with common.uvicorn_server("crm.asgi:app", common.app_env(database_url)) as server:
            tenant = common.new_tenant(server.base_url)
            others = [common.create_org(server.base_url, tenant.token, f"Other Org {n}") for n in range(OTHER_ORGS)]
            await seed(database_url, tenant, others, args.size)
            sets = path_sets(server.base_url, tenant, rng, args.paths)
            for paths in sets.values():  # warm-up, on requests kept out of the measured ones
                common.run_wrk(server.base_url, paths[-200:], headers=tenant.headers, duration=1, connections=2)
            # rounds interleave the families so that load drifting on the machine hits them alike;
            # each round gets its own slice of the distinct requests, so a round never replays another's
            rounds: list[dict[str, common.WrkResult]] = []
            for round_ in range(args.rounds):
                measured = {}
                for name, paths in sets.items():
                    share = paths[:-200][round_ :: args.rounds]
                    result = common.run_wrk(
                        server.base_url,
                        share,
                        headers=tenant.headers,
                        duration=args.duration,
                        connections=args.connections,
                        count_hits=True,
                    )
                    common.check_clean(name, result)
                    measured[name] = result
                rounds.append(measured)
    print(f"machine: {common.machine()}")
    print(
        f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s per endpoint family"
        f" per round, {args.rounds} rounds"
    )
    print(
        f"{'endpoint':<28} {'distinct':>8} {'requests':>8} {'hits':>5}"
        f" {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95 ratio':>9}"
    )
    for name, paths in sets.items():
        runs = [measured[name] for measured in rounds]
        # the ratio of each round to its own baseline, then the median over rounds
        ratios = sorted(r.p95_ms / measured[BASELINE].p95_ms for r, measured in zip(runs, rounds, strict=True))
        print(
            f"{name:<28} {len(paths) - 200:>8} {sum(r.requests for r in runs):>8} {sum(r.cache_hits for r in runs):>5}"
            f" {median(r.p50_ms for r in runs):>7.2f} {median(r.p95_ms for r in runs):>7.2f}"
            f" {median(r.p99_ms for r in runs):>7.2f} {ratios[len(ratios) // 2]:>8.2f}x"
        )
    for name in sets:
        served, hits = sum(m[name].requests for m in rounds), sum(m[name].cache_hits for m in rounds)
        if hits > served * 0.05:
            print(f"warning: {hits} of {served} {name} requests were cache hits: raise --paths, not a miss latency")
    print("latencies: median over rounds; p95 ratio: median over rounds of p95 / the same round's record GET p95")
    print("target: every p95 ratio <= 1.5x the record GET")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench lists", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="contacts and deals in the big org")
    parser.add_argument("--duration", type=float, default=5, help="seconds per endpoint family and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    # enough that a family's share of a round is not served twice (a repeat within 60 s is a cache hit)
    parser.add_argument("--paths", type=int, default=20000, help="distinct requests per endpoint family (at most)")
    common.run_async(bench(parser.parse_args()))
