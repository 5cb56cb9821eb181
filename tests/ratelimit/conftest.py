"""An app instance with low limits (the shared `config` sets them out of reach)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from quart import Quart

from tests.helpers import Api

LOW_LIMITS = {"read": (5, 60), "write": (5, 60), "search": (3, 60), "auth": (3, 60)}


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def reset_limits(redis_client: aioredis.Redis) -> Callable[[], Awaitable[None]]:
    """Forget every counter (users signed up through the main app have spent some)."""

    async def reset() -> None:
        keys = [key async for key in redis_client.scan_iter("tc:rl:*")]
        if keys:
            await redis_client.delete(*keys)

    return reset


@pytest.fixture
async def limited_app(make_app: Any) -> Quart:
    app: Quart = await make_app(rate_limits=dict(LOW_LIMITS), trusted_proxies=("127.0.0.1/32",))
    return app


@pytest.fixture
def limited(limited_app: Quart) -> Api:
    return Api(limited_app)


async def warm_redis_pool(app: Quart, connections: int) -> None:
    """Open the app's Redis connections one by one before a burst: on a loaded machine a burst of
    new connections can pass the 0.5 s connect timeout, and the limiter would (rightly) fail open."""
    pool = app.extensions["redis"].client.connection_pool
    opened = [await pool.get_connection() for _ in range(connections)]
    for connection in opened:
        await pool.release(connection)
