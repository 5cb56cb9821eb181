"""`python -m bench fanout`: one write, 1,000 socket.io clients in one org; time until the last has it.

Three setups run side by side, and each of `--writes` rounds writes once to each
in turn (so load on the machine hits all three alike). A write is `PATCH
/orgs/{org}`: the full path of HTTP, PostgreSQL transaction, outbox, Redis and
every instance.

  two      1,000 clients of one org split across instances A and B (A gets the writes)
  one      1,000 clients of another org on instance C alone
  bare     a bare `websockets.broadcast` to 1,000 clients (the baseline)

Clients are raw engine.io/socket.io v4 speakers over `websockets` (the same
client code for the baseline), spread over `--procs` processes so the client
side is not the bottleneck; each process reports when all its clients have a
given write, and the next write starts only when every client has the last.
Latency = last client's receipt minus the write's start (one machine, one clock).
Prints p50/p99 per run and the ratios; targets: two/bare p99 <= 3x, <= 100 ms; two/one <= 1.1x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import broadcast, serve

from bench import common

CONNECT_BATCH = 50


# -- client processes -------------------------------------------------------------------------


class Tracker:
    """Counts receipts per write; prints `done <n> <last receipt>` once all local clients have it."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.count: dict[int, int] = {}
        self.last: dict[int, float] = {}
        self.ready = 0

    def got(self, n: int, at: str) -> None:
        now = time.time()
        self.count[n] = self.count.get(n, 0) + 1
        self.last[n] = now
        if self.count[n] == self.clients:
            print(f"done {n} {now:.6f} {datetime.fromisoformat(at).timestamp():.6f}", flush=True)


async def socketio_client(url: str, token: str, org: str, tracker: Tracker) -> None:
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with ws_connect(ws_url, compression=None, max_size=2**22, open_timeout=60) as ws:
        await ws.recv()  # engine.io open
        await ws.send("40" + json.dumps({"token": token}))
        while not (message := await ws.recv()).startswith("40"):
            if message == "2":
                await ws.send("3")
        await ws.send("420" + json.dumps(["org:join", {"org": org}]))
        while not (message := await ws.recv()).startswith("430"):
            if message == "2":
                await ws.send("3")
        if not orjson.loads(message[3:])[0]["ok"]:
            raise RuntimeError(f"join failed: {message}")
        tracker.ready += 1
        async for message in ws:
            if message == "2":
                await ws.send("3")
            elif isinstance(message, str) and message.startswith('42["event"'):
                event = orjson.loads(message[2:])[1]
                if event["type"] == "org.updated":
                    tracker.got(int(event["data"]["name"].rpartition(" ")[2]), event["at"])


async def bare_client(url: str, tracker: Tracker) -> None:
    async with ws_connect(url, compression=None, max_size=2**22, open_timeout=60) as ws:
        tracker.ready += 1
        async for message in ws:
            event = orjson.loads(message)
            tracker.got(int(event["data"]["name"].rpartition(" ")[2]), event["at"])


async def run_clients(args: argparse.Namespace) -> None:
    urls = args.urls.split(",")
    tracker = Tracker(args.clients)
    tasks = []
    for i in range(args.clients):
        url = urls[(i + args.offset) % len(urls)]
        if args.mode == "bare":
            tasks.append(asyncio.create_task(bare_client(url, tracker)))
        else:
            tasks.append(asyncio.create_task(socketio_client(url, args.token, args.org, tracker)))
        if i % CONNECT_BATCH == CONNECT_BATCH - 1:
            while tracker.ready < i + 1 - CONNECT_BATCH // 2:
                await asyncio.sleep(0.01)
                for task in tasks:
                    if task.done() and task.exception():
                        raise task.exception()  # type: ignore[misc]
    while tracker.ready < args.clients:
        await asyncio.sleep(0.01)
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()  # type: ignore[misc]
    print("ready", flush=True)
    await asyncio.gather(*tasks)


# -- the bare baseline server -----------------------------------------------------------------


async def run_bare_server(args: argparse.Namespace) -> None:
    clients: set[Any] = set()
    template = {"type": "org.updated", "org": 1, "seq": 0, "id": "", "at": "", "actor": 1, "data": {}}

    async def handler(ws: Any) -> None:
        if ws.request.path == "/control":
            async for message in ws:
                n = int(message)
                at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
                event = {**template, "seq": n, "at": at, "data": {"id": 1, "name": f"Bench {n}", "version": n}}
                broadcast(clients, orjson.dumps(event).decode())
            return
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", args.port, compression=None, max_size=2**22):
        print("ready", flush=True)
        await asyncio.Future()


# -- the driver -------------------------------------------------------------------------------


async def spawn(*argv: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench",
        "fanout",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        cwd=common.ROOT,
        env={**os.environ, "PYTHONPATH": str(common.ROOT)},
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 300)
    if line.strip() != b"ready":
        raise RuntimeError(f"helper process failed to start: {line!r}")
    return process


async def client_fleet(args: argparse.Namespace, mode: str, urls: list[str], **extra: str) -> list[Any]:
    per_proc = args.clients // args.procs
    fleet = []
    for p in range(args.procs):
        argv = ["--role", "clients", "--mode", mode, "--urls", ",".join(urls), "--clients", str(per_proc)]
        argv += ["--offset", str(p * per_proc)]
        for key, value in extra.items():
            argv += [f"--{key}", value]
        fleet.append(await spawn(*argv))
    return fleet


async def wait_all(fleet: list[Any], n: int) -> tuple[float, float]:
    """The last receipt time of write n across the fleet, and the event's `at` (when it was recorded)."""
    last = at = 0.0
    for process in fleet:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().split()
            if not line:
                raise RuntimeError("a client process died")
            if line[0] == "done" and int(line[1]) == n:
                last, at = max(last, float(line[2])), float(line[3])
                break
    return last, at


def stop(fleet: list[Any]) -> None:
    for process in fleet:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


Samples = dict[str, list[float]]
Trigger = Callable[[int], Awaitable[None]]


async def interleaved(args: argparse.Namespace, setups: dict[str, tuple[list[Any], Trigger]]) -> dict[str, Samples]:
    """Write n to each setup in turn, so machine noise hits every setup alike."""
    results: dict[str, Samples] = {name: {"write": [], "fanout": []} for name in setups}
    for n in range(args.warmup + args.writes):
        for name, (fleet, trigger) in setups.items():
            start = time.time()
            await trigger(n)
            last, at = await wait_all(fleet, n)
            if n >= args.warmup:
                results[name]["write"].append((last - start) * 1000)
                results[name]["fanout"].append((last - at) * 1000)
    return results


def rename_trigger(http: httpx.AsyncClient, slug: str) -> Trigger:
    async def trigger(n: int) -> None:
        response = await http.patch(f"/api/v1/orgs/{slug}", json={"name": f"Bench {n}"})
        response.raise_for_status()

    return trigger


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def bench(args: argparse.Namespace) -> None:
    fleets: list[Any] = []
    async with common.bench_database("fanout") as database_url:
        env = common.app_env(database_url)
        env.update(TINYCRM_SOCKET_RATE="100000000/10", TINYCRM_PUBSUB_CHANNEL=f"bench-{secrets.token_hex(4)}")
        with (
            common.uvicorn_server("crm.asgi:app", env) as a,
            common.uvicorn_server("crm.asgi:app", env) as b,
            common.uvicorn_server("crm.asgi:app", env) as c,
        ):
            tenant = common.new_tenant(a.base_url, "Bench Two")
            solo = common.create_org(a.base_url, tenant.token, "Bench One")
            port = common.free_port()
            try:
                fleets.append(await spawn("--role", "bare-server", "--port", str(port)))
                two = await client_fleet(
                    args, "socketio", [a.base_url, b.base_url], token=tenant.token, org=tenant.org["slug"]
                )
                one = await client_fleet(args, "socketio", [c.base_url], token=tenant.token, org=solo["slug"])
                bare = await client_fleet(args, "bare", [f"ws://127.0.0.1:{port}/clients"])
                fleets += [*two, *one, *bare]
                async with (
                    httpx.AsyncClient(base_url=a.base_url, headers=tenant.headers, timeout=30) as via_a,
                    httpx.AsyncClient(base_url=c.base_url, headers=tenant.headers, timeout=30) as via_c,
                    ws_connect(f"ws://127.0.0.1:{port}/control", compression=None) as control,
                ):

                    async def broadcast_trigger(n: int) -> None:
                        await control.send(str(n))

                    runs = await interleaved(
                        args,
                        {
                            "two instances": (two, rename_trigger(via_a, tenant.org["slug"])),
                            "one instance": (one, rename_trigger(via_c, solo["slug"])),
                            "bare websockets": (bare, broadcast_trigger),
                        },
                    )
            finally:
                stop(fleets)

    print(f"fan-out to {args.clients} clients, {args.writes} writes per setup (interleaved), ms")
    print("  write: write request starts -> last client has it;  fanout: event recorded -> last client has it")
    for kind in ("write", "fanout"):
        stats = {name: percentiles(samples[kind]) for name, samples in runs.items()}
        for name, (p50, p99) in stats.items():
            print(f"  {kind:<6} {name:<16} p50 {p50:7.1f}  p99 {p99:7.1f}")
        (two50, two99), (one50, one99), (bare50, bare99) = stats.values()
        print(f"  {kind:<6} two / bare  p50 {two50 / bare50:5.2f}x  p99 {two99 / bare99:5.2f}x  (target p99 <= 3x)")
        print(f"  {kind:<6} two / one   p50 {two50 / one50:5.2f}x  p99 {two99 / one99:5.2f}x  (target <= 1.1x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--role", choices=["driver", "clients", "bare-server"], default="driver")
    parser.add_argument("--mode", choices=["socketio", "bare"], default="socketio")
    parser.add_argument("--urls", default="")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--token", default="")
    parser.add_argument("--org", default="")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if args.role == "clients":
        asyncio.run(run_clients(args))
    elif args.role == "bare-server":
        asyncio.run(run_bare_server(args))
    else:
        asyncio.run(bench(args))
