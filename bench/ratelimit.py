"""`python -m bench ratelimit`: a rate-limited GET against the same GET with the limiter off.

Two instances of the real app run side by side under uvicorn (one worker each, same database,
Redis and secret): one with the limiter on (limits raised so that nothing is refused: every
request is still counted in Redis and answered with RateLimit headers), one with `RATE_LIMIT=off`
(the limiter is not called at all). wrk loads each in turn, alternating for a few rounds, with
two requests: the authenticated tenant `GET /orgs/<org>/contacts/<id>` (the limiter's count rides
in the same Redis script as the token and session check) and the anonymous `GET /healthz` (where
the count is the request's only Redis round trip). Overhead = off req/s / limited req/s
(target <= 1.3x).
"""

from __future__ import annotations

import argparse
import statistics

import httpx

from bench import common


def measure(base_url: str, path: str, headers: dict[str, str], args: argparse.Namespace) -> common.WrkResult:
    common.run_wrk(base_url, [path], headers=headers, duration=2, connections=args.connections)  # warm-up
    result = common.run_wrk(base_url, [path], headers=headers, duration=args.duration, connections=args.connections)
    common.check_clean(base_url + path, result)
    return result


async def bench(args: argparse.Namespace) -> None:
    async with common.bench_database("ratelimit") as database_url:
        env = common.app_env(database_url)
        with (
            common.uvicorn_server("crm.asgi:app", env) as limited,
            common.uvicorn_server("crm.asgi:app", {**env, "RATE_LIMIT": "off"}) as unlimited,
        ):
            tenant = common.new_tenant(limited.base_url)
            slug = tenant.org["slug"]
            created = httpx.post(
                f"{limited.base_url}/api/v1/orgs/{slug}/contacts",
                json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
                headers=tenant.headers,
            )
            created.raise_for_status()
            record = f"/api/v1/orgs/{slug}/contacts/{created.json()['id']}"
            for server, expect in ((limited, True), (unlimited, False)):
                answer = httpx.get(server.base_url + record, headers=tenant.headers)
                answer.raise_for_status()
                if ("RateLimit" in answer.headers) != expect:
                    raise SystemExit(f"{server.base_url}: RateLimit header {'missing' if expect else 'present'}")
            cases = [("record GET (token)", record, tenant.headers), ("/healthz (anonymous)", "/healthz", {})]
            rounds: list[dict[str, tuple[common.WrkResult, common.WrkResult]]] = []
            for _ in range(args.rounds):
                results = {}
                for name, path, headers in cases:
                    on = measure(limited.base_url, path, headers, args)
                    off = measure(unlimited.base_url, path, headers, args)
                    results[name] = (on, off)
                rounds.append(results)
    print(f"machine: {common.machine()}")
    print(f"wrk: 1 thread, {args.connections} connections, {args.duration:g} s per run, {args.rounds} rounds")
    print(
        f"{'request':<21} {'round':>5}  {'limited req/s':>13}  {'off req/s':>9}  {'overhead':>8}"
        f"  {'limited p50 ms':>14}  {'off p50 ms':>10}"
    )
    for name, _path, _headers in cases:
        for n, results in enumerate(rounds, 1):
            on, off = results[name]
            print(
                f"{name:<21} {n:>5}  {on.rps:>13.0f}  {off.rps:>9.0f}  {off.rps / on.rps:>7.2f}x"
                f"  {on.p50_ms:>14.2f}  {off.p50_ms:>10.2f}"
            )
        overheads = [r[name][1].rps / r[name][0].rps for r in rounds]
        print(f"{name}: median overhead {statistics.median(overheads):.2f}x (target <= 1.3x)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ratelimit", description=__doc__)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    common.run_async(bench(parser.parse_args()))
