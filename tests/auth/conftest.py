from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis


@pytest.fixture
async def rds(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A direct Redis client on the app's database, to look at keys and TTLs."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
