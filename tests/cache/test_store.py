"""The cache store on the real engines: keys, hits, invalidation scope, single-flight."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from databases import Database

from crm.cache import keys
from crm.cache.store import CacheStore
from tests.cache.conftest import make_org

STATS = ("activities", "companies", "contacts", "dashboard", "deals")


def test_params_hash_alike_in_any_order_with_defaults_filled_and_empties_dropped() -> None:
    base = keys.digest({"q": "ann", "stage": "3"}, {"limit": 50, "sort": "name"})
    assert keys.digest({"stage": ["3"], "q": "ann", "limit": "50", "cursor": ""}, {"limit": 50, "sort": "name"}) == base
    assert keys.digest({"q": "ann", "stage": "4"}, {"limit": 50, "sort": "name"}) != base
    assert keys.digest({"q": "ann", "stage": "3", "limit": "51"}, {"limit": 50, "sort": "name"}) != base


def test_keys_of_an_org_share_one_cluster_hash_tag() -> None:
    assert keys.generation_key(42, "deals") == "tc:{42}:gen:deals"
    assert keys.value_key(42, "deals:list", "e.1.2", "ab").startswith("tc:{42}:deals:list:")
    assert keys.lock_key(42, "deals:list", "e.1.2", "ab").startswith("tc:{42}:lock:")


async def view(
    store: CacheStore, org_id: int, kind: str, depends: tuple[str, ...], answer: list[int]
) -> tuple[int, str]:
    """A cached view whose computation records that it ran and answers the run number."""

    async def compute() -> bytes:
        answer[0] += 1
        return str(answer[0]).encode()

    raw, outcome = await store.get_or_compute(
        org_id=org_id, kind=kind, depends=depends, digest=keys.digest({}), ttl=60, compute=compute
    )
    return int(raw), outcome


async def test_second_read_is_a_hit_until_a_dependency_is_bumped(store: CacheStore) -> None:
    runs = [0]
    assert await view(store, 1, "dashboard:stats", STATS, runs) == (1, "miss")
    assert await view(store, 1, "dashboard:stats", STATS, runs) == (1, "hit")
    assert await store.bump(1, ["activities"])
    assert await view(store, 1, "dashboard:stats", STATS, runs) == (2, "miss")
    assert await view(store, 1, "dashboard:stats", STATS, runs) == (2, "hit")


async def test_a_fence_sends_reads_of_its_domains_to_the_source_until_the_writers_bump(store: CacheStore) -> None:
    """Between a writer's fence (before its commit) and its bump, no read is answered from the
    cache or stores into it, alone or with other views (the org guard's combined lookup)."""
    runs = [0]
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (1, "miss")
    assert await store.fence(1, ["contacts", "search"], "writer-a")
    assert await store.fence(1, ["contacts"], "writer-b")  # a second writer of the same domain
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (2, "bypass")
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (3, "bypass")
    assert await view(store, 2, "contacts:record", ("contacts",), runs) == (4, "miss")  # another org
    assert await view(store, 1, "deals:list", ("deals",), runs) == (5, "miss")  # another domain
    both = await store.lookup_many(
        1, [("deals:list", ("deals",), keys.digest({})), ("contacts:record", ("contacts",), keys.digest({}))]
    )
    assert both[0].token is not None and both[0].value == b"5"
    assert both[1].token is None  # bypass

    assert await store.bump(1, ["contacts", "search"], fence_id="writer-a")
    assert await store.bump(1, ["contacts"], fence_id="writer-a")  # released twice: no effect on b
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (6, "bypass")  # b still writing
    assert await store.bump(1, ["contacts"], fence_id="writer-b")
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (7, "miss")
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (7, "hit")

    assert await store.fence(1, ["contacts"], "writer-c")
    await store.unfence(1, ["contacts"], "writer-c")  # rolled back: no bump, and the entry is still good
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (7, "hit")
    assert not await store.hub.client.exists(keys.fence_key(1, "contacts"))


async def test_a_writer_that_never_releases_its_fence_stops_counting_at_its_deadline(
    store: CacheStore, monkeypatch: Any
) -> None:
    """Each writer has its own deadline: fences by others keep the key alive, not the lost one."""
    from crm.cache import store as store_module

    runs = [0]
    monkeypatch.setattr(store_module, "FENCE_MS", 300)
    assert await store.fence(1, ["contacts"], "lost")  # its bump never comes
    for n in range(4):  # others keep writing the domain, each released
        await asyncio.sleep(0.1)
        assert await store.fence(1, ["contacts"], f"writer-{n}")
        assert await store.bump(1, ["contacts"], fence_id=f"writer-{n}")
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (1, "miss")  # 400 ms > 300
    assert await view(store, 1, "contacts:record", ("contacts",), runs) == (1, "hit")


async def test_a_bump_changes_exactly_the_views_that_depend_on_it_and_no_other_org(store: CacheStore) -> None:
    views = {
        "contacts:list": ("contacts",),
        "deals:list": ("deals",),
        "pipeline": ("deals",),
        "dashboard:stats": STATS,
        "org": ("org",),
    }
    runs = {(org, kind): [0] for org in (1, 2) for kind in views}
    for org in (1, 2):
        for kind, depends in views.items():
            assert (await view(store, org, kind, depends, runs[(org, kind)]))[1] == "miss"

    await store.bump(1, ["deals"])

    outcomes = {
        (org, kind): (await view(store, org, kind, depends, runs[(org, kind)]))[1]
        for org in (1, 2)
        for kind, depends in views.items()
    }
    recomputed = {key for key, outcome in outcomes.items() if outcome == "miss"}
    assert recomputed == {(1, "deals:list"), (1, "pipeline"), (1, "dashboard:stats")}


async def test_concurrent_misses_of_one_key_compute_once(store: CacheStore) -> None:
    computed = 0

    async def slow_stats() -> bytes:
        nonlocal computed
        computed += 1
        await asyncio.sleep(0.2)  # the expensive query
        return b'{"open_deals": 7}'

    async def read() -> tuple[bytes, str]:
        return await store.get_or_compute(
            org_id=5, kind="dashboard:stats", depends=STATS, digest="d", ttl=60, compute=slow_stats
        )

    results = await asyncio.gather(*(read() for _ in range(20)))
    assert computed == 1
    assert {value for value, _ in results} == {b'{"open_deals": 7}'}
    assert sorted(outcome for _, outcome in results) == ["hit"] * 19 + ["miss"]


async def test_a_lost_generation_restarts_above_every_value_it_had(store: CacheStore, redis_url: str) -> None:
    """FLUSHDB or eviction drops counters: a counter that restarted at 1 would meet old entries."""
    runs = [0]
    await view(store, 3, "deals:list", ("deals",), runs)
    old_token = (await store.lookup(3, "deals:list", ("deals",), keys.digest({}))).token
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.delete(keys.generation_key(3, "deals"))
    finally:
        await client.aclose()
    await store.bump(3, ["deals"])
    new_token = (await store.lookup(3, "deals:list", ("deals",), keys.digest({}))).token
    assert old_token is not None and new_token is not None
    assert int(new_token.split(".")[1]) > int(old_token.split(".")[1])


async def test_a_flushed_epoch_key_is_restored_and_caching_resumes(store: CacheStore, redis_url: str) -> None:
    runs = [0]
    await view(store, 4, "org", ("org",), runs)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    assert await view(store, 4, "org", ("org",), runs) == (2, "miss")
    assert await view(store, 4, "org", ("org",), runs) == (2, "hit")


async def test_org_rows_feed_views_from_postgresql(store: CacheStore, db: Database) -> None:
    org_id = await make_org(db, "probe-org")

    async def version() -> bytes:
        return str(await db.fetch_val("SELECT version FROM orgs WHERE id = :id", {"id": org_id})).encode()

    first, _ = await store.get_or_compute(
        org_id=org_id, kind="org", depends=("org",), digest="d", ttl=60, compute=version
    )
    await db.execute("UPDATE orgs SET version = version + 1 WHERE id = :id", {"id": org_id})
    await store.bump(org_id, ["org"])
    second, outcome = await store.get_or_compute(
        org_id=org_id, kind="org", depends=("org",), digest="d", ttl=60, compute=version
    )
    assert (first, second, outcome) == (b"1", b"2", "miss")


async def test_cached_answers_the_same_json_shapes_on_a_miss_and_a_hit(app: Any) -> None:
    from datetime import UTC, datetime

    from crm import cache

    calls = 0

    async def compute() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"as_of": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "open_deals": 3}

    async with app.app_context():
        args = {"org_id": 9, "kind": "dashboard:stats", "depends": STATS, "ttl": 60, "compute": compute}
        first = await cache.cached(**args, params={"months": "12"})
        second = await cache.cached(**args, params={"months": 12})
        await cache.bump(app.extensions["redis"], 9, "dashboard")
        third = await cache.cached(**args, params={"months": "12"})
    assert first == second == third
    assert isinstance(first["as_of"], str) and first["as_of"].startswith("2026-01-02T03:04:05")
    assert calls == 2
