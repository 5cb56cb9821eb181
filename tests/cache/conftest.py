"""Cache fixtures: the worker's PostgreSQL and Redis, a cache store on them, and
throwaway Redis servers that tests may stop and restart."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from databases import Database
from quart import Quart
from redis.exceptions import ConnectionError as RedisConnectionError

from crm import create_app
from crm.cache.store import CacheHub, CacheStore
from crm.config import Config
from tests.auth.test_oidc import provider

__all__ = ["provider"]  # OpenID sign-in links an account and verifies its email: tests/cache/test_me.py


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A real redis-server of our own, on a free port, that a test may stop and start."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        if await client.ping():
                            return
                    except (RedisConnectionError, OSError):
                        await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def command(self, *args: str) -> object:
        client = aioredis.Redis.from_url(self.url)
        try:
            return await client.execute_command(*args)
        finally:
            await client.aclose()

    async def stop(self, *, save: bool = False) -> None:
        """SHUTDOWN NOSAVE (or SAVE), then wait for the process to exit."""
        if self.process is None:
            return
        client = aioredis.Redis.from_url(self.url)
        try:
            # the server closes the connection as it exits, so the reply never comes
            with contextlib.suppress(RedisConnectionError, OSError):
                await client.execute_command("SHUTDOWN", "SAVE" if save else "NOSAVE")
        finally:
            await client.aclose()
        await asyncio.to_thread(self.process.wait, 10)
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the server hangs (connections open, no answers), then `thaw()` brings it back as it was."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def redis_servers() -> Iterator[list[RedisServer]]:
    servers: list[RedisServer] = []
    yield servers
    for server in servers:
        server.kill()


@pytest.fixture
async def throwaway_redis(redis_servers: list[RedisServer]) -> RedisServer:
    server = RedisServer(Path(tempfile.mkdtemp(prefix="tc-cache-redis-")))
    redis_servers.append(server)
    await server.start()
    return server


@pytest.fixture
async def app_on_throwaway_redis(config: Config, throwaway_redis: RedisServer) -> AsyncIterator[Quart]:
    """The whole app on a Redis of its own, which the test may stop and start."""
    os.environ["TINYCRM_AUTO_MIGRATE"] = "0"  # the template is migrated already
    own = dataclasses.replace(config, redis_url=throwaway_redis.url, pubsub_channel=config.pubsub_channel + "-down")
    app = create_app(own)
    async with app.test_app():
        yield app


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, min_size=2, max_size=20)
    await database.connect()
    yield database
    await database.disconnect()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CacheStore]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    await client.aclose()
    cache_store = CacheStore(CacheHub(redis_url))
    yield cache_store
    await cache_store.close()


async def make_org(db: Database, slug: str) -> int:
    org_id = await db.fetch_val("INSERT INTO orgs (slug, name) VALUES (:slug, :slug) RETURNING id", {"slug": slug})
    return int(org_id)
