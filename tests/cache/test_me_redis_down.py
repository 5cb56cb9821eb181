"""GET /me on a Redis that stops, comes back from an older snapshot, or cannot be reached by
the process that wrote: /me answers from PostgreSQL meanwhile and is never stale after."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from crm import create_app
from crm.cache.store import CacheStore
from tests.cache.conftest import RedisServer
from tests.cache.support import ok, until_cached
from tests.helpers import Api

ME = "/api/v1/me"


def expect(name: str, orgs: list[str]) -> Any:
    def check(me: dict[str, Any]) -> None:
        if (me["name"], [o["name"] for o in me["orgs"]]) != (name, orgs):
            pytest.fail(f"stale /me: {me}")

    return check


async def test_me_answers_while_redis_is_down_and_is_not_stale_when_it_returns(
    app_on_throwaway_redis: Quart, throwaway_redis: RedisServer
) -> None:
    api = Api(app_on_throwaway_redis)
    alice = await api.signup("alice@example.com", "Alice Adams")
    org = await alice.create_org("Acme Sales")
    await alice.get(ME)
    assert (await alice.get(ME)).headers["X-Cache"] == "hit"

    await throwaway_redis.stop()
    down = await alice.get(ME)
    assert (down.status, down.headers["X-Cache"]) == (200, "miss")
    expect("Alice Adams", ["Acme Sales"])(down.json)
    await ok(alice, "PATCH", ME, {"name": "Alice Down"})
    await ok(alice, "PATCH", f"/api/v1/orgs/{org['slug']}", {"name": "Acme Down"})
    assert (await alice.post("/api/v1/orgs", json={"name": "Beta Down"})).status == 201
    down = await alice.get(ME)
    assert (down.status, down.headers["X-Cache"]) == (200, "miss")
    expect("Alice Down", ["Acme Down", "Beta Down"])(down.json)

    await throwaway_redis.start()
    await until_cached(alice, ME, expect("Alice Down", ["Acme Down", "Beta Down"]))


async def test_me_from_an_older_snapshot_is_never_served(
    app_on_throwaway_redis: Quart, throwaway_redis: RedisServer
) -> None:
    api = Api(app_on_throwaway_redis)
    alice = await api.signup("alice@example.com", "Alice Adams")
    org = await alice.create_org("Acme Sales")
    await alice.get(ME)
    assert (await alice.get(ME)).headers["X-Cache"] == "hit"
    await throwaway_redis.command("SAVE")  # /me as it is now, under the generations of this moment

    await ok(alice, "PATCH", ME, {"name": "Alice Later"})
    await ok(alice, "PATCH", f"/api/v1/orgs/{org['slug']}", {"name": "Acme Later"})
    expect("Alice Later", ["Acme Later"])((await alice.get(ME)).json)
    await throwaway_redis.stop()  # NOSAVE: the bumps are lost
    await throwaway_redis.start()  # back with the old generations and the old entries

    await until_cached(alice, ME, expect("Alice Later", ["Acme Later"]))


@pytest.fixture
async def second_instance(app_on_throwaway_redis: Quart) -> AsyncIterator[Quart]:
    """Another web process on the same PostgreSQL and Redis."""
    other = create_app(dataclasses.replace(app_on_throwaway_redis.config["TINYCRM"]))
    async with other.test_app():
        yield other


async def test_a_bump_the_writer_could_not_send_is_retried_before_any_instance_serves_stale_me(
    app_on_throwaway_redis: Quart, second_instance: Quart
) -> None:
    """Redis stays up, but the writing process could not reach it when the rename committed."""
    api, elsewhere = Api(app_on_throwaway_redis), Api(second_instance)
    alice = await api.signup("alice@example.com", "Alice Adams")
    alice_elsewhere = dataclasses.replace(alice, api=elsewhere)
    await alice_elsewhere.get(ME)
    assert (await alice_elsewhere.get(ME)).headers["X-Cache"] == "hit"

    store: CacheStore = app_on_throwaway_redis.extensions["cache"]
    store.hub.breaker.record_failure(ConnectionError("unreachable"))
    await ok(alice, "PATCH", ME, {"name": "Alice Partitioned"})  # committed; the bump is deferred
    store.hub.breaker.record_success()
    mine = await alice.get(ME)  # the writer's process does not trust its cache for this user meanwhile
    assert (mine.json["name"], mine.headers["X-Cache"]) == ("Alice Partitioned", "miss")

    await store.flush_deferred()  # what the background retry does every 250 ms
    assert not store.dirty
    assert (await alice_elsewhere.get(ME)).json["name"] == "Alice Partitioned"
    await until_cached(alice, ME, expect("Alice Partitioned", []))
