"""`python -m bench api`: an authenticated, tenant-scoped contact GET against a bare Quart route.

Both apps run under uvicorn (one worker each) and are loaded in turn by wrk from
a separate process with the same connections and duration. Prints requests/s
of each and the ratio real/bare (target >= 0.6), and, to show where the time
goes, the real app's /healthz (its middleware without auth, tenancy or cache).
"""

from __future__ import annotations

import argparse
import tempfile

import httpx
import orjson

from bench import common


def measure(base_url: str, path: str, headers: dict[str, str], args: argparse.Namespace) -> common.WrkResult:
    common.run_wrk(base_url, [path], headers=headers, duration=2, connections=args.connections)  # warm-up
    result = common.run_wrk(base_url, [path], headers=headers, duration=args.duration, connections=args.connections)
    common.check_clean(base_url + path, result)
    return result


async def bench(args: argparse.Namespace) -> None:
    async with common.bench_database("api") as database_url:
        with common.uvicorn_server("crm.asgi:app", common.app_env(database_url)) as real:
            tenant = common.new_tenant(real.base_url)
            slug = tenant.org["slug"]
            created = httpx.post(
                f"{real.base_url}/api/v1/orgs/{slug}/contacts",
                json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "title": "CTO"},
                headers=tenant.headers,
            )
            created.raise_for_status()
            path = f"/api/v1/orgs/{slug}/contacts/{created.json()['id']}"
            body = httpx.get(real.base_url + path, headers=tenant.headers)
            body.raise_for_status()
            with tempfile.NamedTemporaryFile("wb", suffix=".json") as handle:
                handle.write(orjson.dumps(body.json()))
                handle.flush()
                env = {**common.app_env(database_url), "BENCH_BARE_JSON": handle.name}
                with common.uvicorn_server("bench.bare_app:app", env) as bare:
                    rounds = []
                    for _ in range(args.rounds):
                        base = measure(bare.base_url, path, tenant.headers, args)
                        crm = measure(real.base_url, path, tenant.headers, args)
                        # where the time goes: the real app's middleware alone (no auth, tenant or cache)
                        health = measure(real.base_url, "/healthz", {}, args)
                        rounds.append((base, crm, health))
    print(f"machine: {common.machine()}")
    print(f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s per run, {args.rounds} rounds")
    print(
        f"{'round':>5}  {'bare req/s':>11}  {'tinycrm req/s':>13}  {'ratio':>6}  {'tinycrm p50/p99 ms':>18}"
        f"  {'tinycrm /healthz req/s':>22}"
    )
    for n, (base, crm, health) in enumerate(rounds, 1):
        print(
            f"{n:>5}  {base.rps:>11.0f}  {crm.rps:>13.0f}  {crm.rps / base.rps:>6.2f}"
            f"  {crm.p50_ms:>8.2f}/{crm.p99_ms:<9.2f}  {health.rps:>22.0f}"
        )
    ratios = sorted(c.rps / b.rps for b, c, _ in rounds)
    print(f"median ratio of the rounds: {ratios[len(ratios) // 2]:.2f} (target >= 0.6)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    common.run_async(bench(parser.parse_args()))
