"""A Redis outage in the middle of a burst of writes loses no event.

Its own module, without the shared A and B instances: they run on the worker's Redis
but share the database, so their relays would publish the burst's stranded events
where the reader (on the throwaway Redis) never hears them, and nothing would make
it fetch those that came last.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from quart import Quart

from tests.realtime.conftest import Http, Person, free_port


async def rename(person: Person, org: dict[str, Any], name: str, via: Any) -> None:
    status, body = await person.request("PATCH", f"/orgs/{org['slug']}", json={"name": name}, via=via)
    assert status == 200, body


@pytest.fixture
async def throwaway_redis() -> AsyncIterator[dict[str, Any]]:
    """A private redis-server this test may stop and start again on the same port."""
    port = free_port()
    state: dict[str, Any] = {"port": port, "url": f"redis://127.0.0.1:{port}/0", "proc": None}

    async def start() -> None:
        state["proc"] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(state["url"])
        try:
            for _ in range(200):
                with contextlib.suppress(OSError, aioredis.ConnectionError):
                    if await client.ping():
                        return
                await asyncio.sleep(0.02)  # start-up poll, not an event wait
        finally:
            await client.aclose()
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        proc = state["proc"]
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()

    state["start"], state["stop"] = start, stop
    await start()
    yield state
    stop()


async def test_redis_outage_during_a_burst_loses_no_event(
    app: Quart, throwaway_redis: dict[str, Any], spawn: Callable[..., Any]
) -> None:
    writer, reader = await asyncio.gather(
        spawn(REDIS_URL=throwaway_redis["url"]), spawn(REDIS_URL=throwaway_redis["url"])
    )
    http = Http(writer, app)
    try:
        alice = await http.signup("alice@example.com", "Alice Adams")
        status, org = await alice.request("POST", "/orgs", json={"name": "Acme Sales"})
        assert status == 201, org
        client = await alice.connect(reader)
        start = (await client.join(org["slug"]))["seq"]

        for n in range(30):
            if n == 10:
                throwaway_redis["stop"]()
            if n == 20:
                await throwaway_redis["start"]()
            await rename(alice, org, f"Burst {n}", via=writer)

        received = [await client.next_event() for _ in range(30)]
        assert [e["seq"] for e in received] == list(range(start + 1, start + 31))
        assert [e["data"]["name"] for e in received] == [f"Burst {n}" for n in range(30)]
    finally:
        for live in http.clients:
            await live.close()
