"""The event bus's own Redis subscription, on the kinds of Redis URL a deployment uses."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from realtime.bus import EventBus


async def test_the_bus_subscribes_over_a_unix_socket(tmp_path: Path) -> None:
    # the embedded Redis is reached through a unix socket (NOTES.md), where TCP keepalive does not exist
    socket_path = tmp_path / "redis.sock"
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(socket_path), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"unix://{socket_path}?db=0"
    task: asyncio.Task[None] | None = None
    try:
        probe = aioredis.Redis.from_url(url)
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(RedisConnectionError, OSError):
                    if await probe.ping():
                        break
                await asyncio.sleep(0.02)  # start-up poll, not an event wait
        await probe.aclose()
        bus = EventBus(None, None, redis_url=url, channel="tinycrm-bus-test")  # type: ignore[arg-type]
        task = asyncio.create_task(bus.run())
        await asyncio.wait_for(bus.subscribed.wait(), 10)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server.terminate()
        server.wait(10)
