"""Redis access with a circuit breaker.

Caches, rate limits and presence degrade when Redis is down; callers use
`guarded(...)` to get a fallback value instead of an exception, and the breaker
keeps requests from each waiting on a dead server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from quart import current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crm.redismux import Arg, Multiplexed, Script

log = logging.getLogger(__name__)
T = TypeVar("T")


def client_from_url(url: str, *, max_connections: int = 50) -> aioredis.Redis:
    # A blocking pool waits for a free connection: the default pool raises "Too many connections"
    # (a ConnectionError) under a burst, which would open the breaker and fail rate limits open.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=1.0,
        socket_timeout=1.0,
        socket_connect_timeout=0.5,
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


class Breaker:
    """Open after a failure; while open, skip Redis for `cooldown` seconds, then try again."""

    def __init__(self, cooldown: float = 1.0) -> None:
        self.cooldown = cooldown
        self.open_until = 0.0
        self.failures = 0

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def record_failure(self, error: Exception) -> None:
        self.failures += 1
        if not self.is_open:
            log.warning("redis unavailable, degrading for %.1fs: %s", self.cooldown, error)
        self.open_until = time.monotonic() + self.cooldown

    def record_success(self) -> None:
        self.open_until = 0.0


class RedisHub:
    """The process's Redis clients plus their breaker: `client` (redis-py, for everything) and
    `mux` (one pipelined connection, for the few commands every request runs)."""

    def __init__(self, url: str, *, max_connections: int = 50) -> None:
        self.url = url
        self.client = client_from_url(url, max_connections=max_connections)
        self.mux = Multiplexed(url)
        self.breaker = Breaker()

    async def guarded(self, op: Callable[[aioredis.Redis], Awaitable[T]], fallback: T) -> T:
        """Run `op` against Redis; on a Redis failure (or an open breaker) return `fallback`."""
        return await self._guard(lambda: op(self.client), fallback)

    async def run_script(self, script: Script, keys: Sequence[str], args: Sequence[Arg], fallback: T) -> Any | T:
        """EVALSHA on the multiplexed connection, through the breaker like `guarded()`."""
        return await self._guard(lambda: self.mux.evalsha(script, keys, args), fallback)

    async def run_command(self, args: Sequence[Arg], fallback: T) -> Any | T:
        """One command on the multiplexed connection, through the breaker like `guarded()`."""
        return await self._guard(lambda: self.mux.execute(*args), fallback)

    async def _guard(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self.breaker.is_open:
            return fallback
        try:
            result = await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            self.breaker.record_failure(error)
            return fallback
        except RedisError as error:
            log.warning("redis error: %s", error)
            return fallback
        self.breaker.record_success()
        return result

    async def close(self) -> None:
        await self.mux.close()
        await self.client.aclose()


def get_redis() -> RedisHub:
    hub: RedisHub = current_app.extensions["redis"]
    return hub


async def ping(hub: RedisHub) -> bool:
    return bool(await hub.client.ping())


RedisDown = (RedisConnectionError, RedisTimeoutError, OSError)
Unavailable = RedisError
__all__ = ["Breaker", "RedisDown", "RedisHub", "Unavailable", "client_from_url", "get_redis", "ping"]
