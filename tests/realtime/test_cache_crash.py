"""A web process that dies after a commit, before its cache bumps land, leaves no stale cache.

Real uvicorn processes on shared PostgreSQL and Redis. The reader R caches a contact; its
outbox relay is held back (`TINYCRM_RELAY_AGE` far beyond the test), so what R serves after
the writer W died is what every instance would serve without a sweeper: the value from before
the committed write. Then S, an ordinary instance, starts; its relay applies W's invalidation
and R serves the change.

Its own module, without the shared A and B instances, whose relays would sweep W's
invalidation before the control read.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from quart import Quart

from tests.cache.conftest import RedisServer
from tests.realtime.conftest import TIMEOUT, Http, Instance, Person

HELD_BACK = {"TINYCRM_RELAY_AGE": "3600"}


async def read_version(person: Person, instance: Instance, path: str) -> tuple[int, str]:
    """The record's version and X-Cache, as `instance` answers."""
    headers = {"Authorization": f"Bearer {person.token}"}
    async with aiohttp.ClientSession() as http, http.get(f"{instance.url}/api/v1{path}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return int((await response.json())["version"]), response.headers["X-Cache"]


async def until_read(
    person: Person, instance: Instance, path: str, done: Callable[[int, str], bool], allowed: set[int]
) -> tuple[int, str]:
    """GET until `done(version, x_cache)`; every answer on the way must be an `allowed` version."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            version, outcome = await read_version(person, instance, path)
            assert version in allowed, (version, outcome)
            if done(version, outcome):
                return version, outcome
            await asyncio.sleep(0.05)  # a poll of the answer, not a wait for an event


async def contact_cached_by(reader: Instance, app: Quart) -> tuple[Person, dict[str, Any], str, int]:
    """Alice, her org and a contact whose record `reader` has cached at version 1."""
    http = Http(reader, app)
    alice = await http.signup("alice@example.com", "Alice Adams")
    status, org = await alice.request("POST", "/orgs", json={"name": "Acme Sales"})
    assert status == 201, org
    status, contact = await alice.request(
        "POST", f"/orgs/{org['slug']}/contacts", json={"first_name": "Jane", "last_name": "Doe"}
    )
    assert status == 201, contact
    record = f"/orgs/{org['slug']}/contacts/{contact['id']}"
    await until_read(alice, reader, record, lambda _v, outcome: outcome == "hit", allowed={1})
    return alice, org, record, int(contact["id"])


async def pending_rows(sql: asyncpg.Connection, org_id: int) -> int:
    return int(await sql.fetchval("SELECT count(*) FROM cache_invalidations WHERE org_id = $1", org_id))


async def test_a_process_killed_between_commit_and_bump_leaves_no_stale_cache_once_a_relay_sweeps(
    app: Quart, spawn: Callable[..., Any], sql: asyncpg.Connection
) -> None:
    reader, writer = await asyncio.gather(spawn(**HELD_BACK), spawn(TINYCRM_TEST_CRASH_AFTER_COMMIT="1"))
    alice, org, record, contact_id = await contact_cached_by(reader, app)
    client = await alice.connect(reader)
    await client.join(org["slug"])

    with pytest.raises(aiohttp.ClientError):  # the writer dies before it answers
        await alice.request("PATCH", record, json={"title": "CTO", "version": 1}, via=writer)
    assert writer.proc is not None
    assert await asyncio.wait_for(asyncio.to_thread(writer.proc.wait), TIMEOUT) == -signal.SIGKILL
    assert await sql.fetchval("SELECT version FROM contacts WHERE id = $1", contact_id) == 2
    assert await pending_rows(sql, org["id"]) == 1
    # the write committed, its bump never ran; its fence, set before the commit, still stands:
    # R answers from PostgreSQL (X-Cache says miss for a bypass too; without the fence R would
    # serve version 1 until a relay swept)
    assert await read_version(alice, reader, record) == (2, "miss")

    await spawn()  # an ordinary instance: its relay applies the invalidation, then relays the event
    event = await client.next_event(lambda e: e["type"] == "contact.updated")
    assert event["data"]["version"] == 2
    # the relay bumped before it published: a client reacting to the event reads the change
    # (from PostgreSQL until the dead writer's fence expires, then from the cache again)
    assert await read_version(alice, reader, record) == (2, "miss")
    assert await pending_rows(sql, org["id"]) == 0


@pytest.fixture
async def hanging_redis() -> AsyncIterator[RedisServer]:
    """A private redis-server the test may freeze: it hangs, then comes back as it was."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="tc-hang-redis-")))
    await server.start()
    yield server
    server.kill()


async def test_deferred_bumps_of_a_process_that_died_while_redis_hung_are_applied_when_redis_is_back(
    app: Quart, spawn: Callable[..., Any], sql: asyncpg.Connection, hanging_redis: RedisServer
) -> None:
    on_redis = {"REDIS_URL": hanging_redis.url}
    reader, writer = await asyncio.gather(spawn(**on_redis, **HELD_BACK), spawn(**on_redis))
    alice, org, record, _contact_id = await contact_cached_by(reader, app)

    hanging_redis.freeze()  # every Redis call now times out
    status, body = await alice.request("PATCH", record, json={"title": "CTO", "version": 1}, via=writer)
    assert (status, body["version"]) == (200, 2)  # committed; its bump is deferred in the writer
    writer.kill()  # ... and dies with it
    assert await pending_rows(sql, org["id"]) == 1
    hanging_redis.thaw()

    # the same server is back, with the generation from before the write: R serves version 1
    # (answers from PostgreSQL while its breaker cools down may already say 2)
    assert await until_read(alice, reader, record, lambda _v, outcome: outcome == "hit", allowed={1, 2}) == (1, "hit")

    await spawn(**on_redis)  # its relay applies the dead writer's invalidation
    await until_read(alice, reader, record, lambda version, _o: version == 2, allowed={1, 2})
    assert await read_version(alice, reader, record) == (2, "hit")
    assert await pending_rows(sql, org["id"]) == 0
