"""The whole app on a Redis that stops, restarts empty, or comes back from an older snapshot.

Requests keep succeeding while Redis is gone (reads from PostgreSQL, writes commit),
and once it is back no cached answer older than a finished write is ever served.
"""

from __future__ import annotations

import pytest
from quart import Quart

from tests.cache.conftest import RedisServer
from tests.cache.support import created, ok, until_cached
from tests.helpers import Api


async def test_requests_succeed_while_redis_is_down_and_nothing_stale_is_served_after(
    app_on_throwaway_redis: Quart, throwaway_redis: RedisServer
) -> None:
    api = Api(app_on_throwaway_redis)
    alice = await api.signup("alice@example.com", "Alice Adams")
    org = await alice.create_org("Acme Sales")
    base = f"/api/v1/orgs/{org['slug']}"
    contact = await created(alice, f"{base}/contacts", {"first_name": "Jane", "last_name": "Doe"})
    record = f"{base}/contacts/{contact['id']}"
    for path in (record, f"{base}/dashboard/stats", f"{base}/contacts"):
        await alice.get(path)
        assert (await alice.get(path)).headers["X-Cache"] == "hit"

    await throwaway_redis.stop()
    assert (await alice.get(record)).json["version"] == 1
    changed = await ok(alice, "PATCH", record, {"title": "CTO", "version": 1})
    assert changed["version"] == 2
    await created(alice, f"{base}/contacts", {"first_name": "Joe", "last_name": "Bloggs"})
    down_read = await alice.get(record)
    assert (down_read.status, down_read.json["version"], down_read.headers["X-Cache"]) == (200, 2, "miss")
    assert (await alice.get(f"{base}/dashboard/stats")).json["contacts"] == 2
    assert len((await alice.get(f"{base}/contacts")).json["items"]) == 2

    await throwaway_redis.start()
    await until_cached(alice, record, lambda body: body["version"] == 2 or pytest.fail(f"stale: {body}"))
    await until_cached(
        alice, f"{base}/dashboard/stats", lambda body: body["contacts"] == 2 or pytest.fail(f"stale: {body}")
    )
    await until_cached(alice, f"{base}/contacts", lambda body: len(body["items"]) == 2 or pytest.fail(f"stale: {body}"))


async def test_a_redis_restored_from_an_older_snapshot_serves_nothing_stale(
    app_on_throwaway_redis: Quart, throwaway_redis: RedisServer
) -> None:
    api = Api(app_on_throwaway_redis)
    alice = await api.signup("alice@example.com", "Alice Adams")
    org = await alice.create_org("Acme Sales")
    base = f"/api/v1/orgs/{org['slug']}"
    contact = await created(alice, f"{base}/contacts", {"first_name": "Jane", "last_name": "Doe"})
    record = f"{base}/contacts/{contact['id']}"
    await alice.get(record)
    assert (await alice.get(record)).headers["X-Cache"] == "hit"
    await throwaway_redis.command("SAVE")  # version 1, cached under the generation of that moment

    await ok(alice, "PATCH", record, {"title": "CTO", "version": 1})
    assert (await alice.get(record)).json["version"] == 2
    await throwaway_redis.stop()  # NOSAVE: the bump and the new entry are lost
    await throwaway_redis.start()  # back with the old generation *and* the old entry

    await until_cached(alice, record, lambda body: body["version"] == 2 or pytest.fail(f"stale: {body}"))
