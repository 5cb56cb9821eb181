"""Fixtures on the real engines.

PostgreSQL: TEST_DATABASE_URL (else the embedded server). Each xdist worker gets
its own database cloned from a template migrated once; tables are truncated
between tests. Redis: TEST_REDIS_URL (else embedded); each worker gets its own
logical database and pub/sub channel, flushed between tests.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from quart import Quart

from crm import create_app
from crm.auth import passwords
from crm.config import Config
from crm.db import asyncpg_dsn
from tests import dbtools
from tests.helpers import Api

passwords.use_fast_hashing_for_tests()


def worker_number() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


@pytest.fixture(scope="session")
def engines() -> dict[str, str]:
    """Server URLs: the machine's test services, else embedded ones."""
    database_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not database_url or not redis_url:
        from crm.embedded import resolve_urls

        data_dir = Path(os.environ.get("TINYCRM_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "tinycrm-test"))
        database_url, redis_url = resolve_urls(database_url, redis_url, data_dir)
    return {"database": database_url, "redis": redis_url}


@pytest.fixture(scope="session")
def database_url(engines: dict[str, str]) -> str:
    prefix = os.environ.get("TINYCRM_TEST_DB_PREFIX", "tc_test")
    return dbtools.worker_database(engines["database"], f"{prefix}_w{worker_number()}")


@pytest.fixture(scope="session")
def redis_url(engines: dict[str, str]) -> str:
    return dbtools.worker_redis_url(engines["redis"], worker_number())


@pytest.fixture(scope="session")
def config(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Config:
    return Config(
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-" + secrets.token_hex(16),
        base_url="http://localhost",
        data_dir=tmp_path_factory.mktemp("data"),
        pubsub_channel=f"tinycrm-test-{worker_number()}-{secrets.token_hex(4)}",
        testing=True,
        rate_limits={
            "read": (100000, 60),
            "write": (100000, 60),
            "search": (100000, 60),
            "auth": (100000, 60),
        },
    )


@pytest.fixture(scope="session")
async def app(config: Config) -> AsyncIterator[Quart]:
    os.environ["TINYCRM_AUTO_MIGRATE"] = "0"  # the template is migrated already
    quart_app = create_app(config)
    async with quart_app.test_app():
        yield quart_app


@pytest.fixture
async def make_app(config: Config) -> AsyncIterator[Any]:
    """Build more app instances on the same PostgreSQL and Redis, each with its own Config changes
    (`await make_app(rate_limits={...})`): a second instance, low limits, an https BASE_URL."""
    import dataclasses
    from contextlib import AsyncExitStack

    os.environ["TINYCRM_AUTO_MIGRATE"] = "0"
    async with AsyncExitStack() as stack:

        async def build(**changes: Any) -> Quart:
            instance = create_app(dataclasses.replace(config, **changes))
            await stack.enter_async_context(instance.test_app())
            return instance

        yield build


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty tables and the worker's Redis db before each test that touches them."""
    if "app" in request.fixturenames or "database_url" in request.fixturenames:
        database_url = request.getfixturevalue("database_url")
        redis_url = request.getfixturevalue("redis_url")
        await dbtools.truncate_all(database_url)
        client = aioredis.Redis.from_url(redis_url)
        await client.flushdb()
        await client.aclose()
    yield


@pytest.fixture
async def sql(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the worker's database, for assertions on rows."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def base(org: dict[str, Any]) -> str:
    """The API path of Alice's org."""
    return f"/api/v1/orgs/{org['slug']}"


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


@pytest.fixture
def api(app: Quart) -> Api:
    return Api(app)


@pytest.fixture
async def alice(api: Api) -> Any:
    return await api.signup("alice@example.com", "Alice Adams")


@pytest.fixture
async def bob(api: Api) -> Any:
    return await api.signup("bob@example.com", "Bob Brown")


@pytest.fixture
async def org(alice: Any) -> dict[str, Any]:
    """Alice's org: she is its owner."""
    return await alice.create_org("Acme Sales")
