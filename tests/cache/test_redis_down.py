"""Redis stops, restarts, or comes back from an older snapshot: reads never fail and never go stale."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from databases import Database

from crm.cache import keys
from crm.cache.store import CacheHub, CacheStore
from tests.cache.conftest import RedisServer, make_org

DIGEST = keys.digest({})


async def select_version(db: Database, org_id: int) -> bytes:
    return str(await db.fetch_val("SELECT version FROM orgs WHERE id = :id", {"id": org_id})).encode()


async def read(store: CacheStore, db: Database, org_id: int) -> tuple[int, str]:
    raw, outcome = await store.get_or_compute(
        org_id=org_id, kind="org", depends=("org",), digest=DIGEST, ttl=600, compute=lambda: select_version(db, org_id)
    )
    return int(raw), outcome


async def write(store: CacheStore, db: Database, org_id: int) -> bool:
    async with db.transaction():
        await db.execute("UPDATE orgs SET version = version + 1 WHERE id = :id", {"id": org_id})
    return await store.bump(org_id, ["org"])


async def test_reads_fall_back_to_postgresql_while_redis_is_down_and_stay_fresh_after(
    db: Database, throwaway_redis: RedisServer
) -> None:
    org_id = await make_org(db, "down-org")
    store = CacheStore(CacheHub(throwaway_redis.url))
    try:
        assert await read(store, db, org_id) == (1, "miss")
        assert await read(store, db, org_id) == (1, "hit")

        await throwaway_redis.stop()
        assert not await write(store, db, org_id)  # committed; the bump is deferred
        assert store.is_dirty(org_id, ["org"])
        assert await read(store, db, org_id) == (2, "bypass")
        assert not await write(store, db, org_id)
        assert await read(store, db, org_id) == (3, "bypass")

        await throwaway_redis.start()
        store.hub.breaker.record_success()  # the cool-down is over
        value, outcome = await read(store, db, org_id)
        assert (value, outcome != "hit") == (3, True)
        await store.flush_deferred()  # the background retry may have done it already
        assert not store.dirty
        assert (await read(store, db, org_id))[0] == 3
        assert await read(store, db, org_id) == (3, "hit")
    finally:
        await store.close()


async def test_a_bump_lost_to_an_open_breaker_is_retried_before_any_process_serves_stale(
    db: Database, throwaway_redis: RedisServer
) -> None:
    """Redis stays up, but this process could not reach it when its write committed."""
    org_id = await make_org(db, "partition-org")
    writer_process = CacheStore(CacheHub(throwaway_redis.url))
    other_process = CacheStore(CacheHub(throwaway_redis.url))
    try:
        assert await read(other_process, db, org_id) == (1, "miss")
        writer_process.hub.breaker.record_failure(ConnectionError("unreachable"))
        assert not await write(writer_process, db, org_id)
        writer_process.hub.breaker.record_success()
        # the writer's own process refuses its cache for that org domain until the bump lands
        value, outcome = await read(writer_process, db, org_id)
        assert (value, outcome != "hit") == (2, True)
        await writer_process.flush_deferred()
        assert await read(other_process, db, org_id) == (2, "miss")
        assert await read(writer_process, db, org_id) == (2, "hit")
    finally:
        await writer_process.close()
        await other_process.close()


async def test_a_result_computed_before_a_restart_is_never_served_after_it(
    db: Database, throwaway_redis: RedisServer
) -> None:
    """A reader reads the generation, Redis restarts empty, writes land, then the reader stores."""
    org_id = await make_org(db, "restart-org")
    store = CacheStore(CacheHub(throwaway_redis.url))
    try:
        before = await store.lookup(org_id, "org", ("org",), DIGEST)
        old_value = await select_version(db, org_id)
        await throwaway_redis.stop()
        await throwaway_redis.start()
        for _ in range(3):
            assert await write(store, db, org_id)
        assert before.token is not None
        await store.store(org_id, "org", before.token, DIGEST, old_value, 600)
        assert await read(store, db, org_id) == (4, "miss")
    finally:
        await store.close()


async def test_a_restore_from_an_older_snapshot_serves_nothing_from_that_snapshot(
    db: Database, throwaway_redis: RedisServer
) -> None:
    """The snapshot brings back old generations *and* the values stored under them."""
    org_id = await make_org(db, "restore-org")
    store = CacheStore(CacheHub(throwaway_redis.url))
    try:
        assert await read(store, db, org_id) == (1, "miss")
        await throwaway_redis.command("SAVE")  # the snapshot: version 1 cached under the current generation
        assert await write(store, db, org_id)
        assert await read(store, db, org_id) == (2, "miss")
        await throwaway_redis.stop()  # NOSAVE: the bump above is lost
        await throwaway_redis.start()  # loads the older snapshot

        restored = aioredis.Redis.from_url(throwaway_redis.url)
        try:
            old_keys = [k async for k in restored.scan_iter(match=keys.value_prefix(org_id, "org") + "*")]
        finally:
            await restored.aclose()
        assert old_keys, "the snapshot should hold the old value, or this test proves nothing"
        assert await read(store, db, org_id) == (2, "miss")
        assert await read(store, db, org_id) == (2, "hit")
    finally:
        await store.close()


async def test_a_hung_redis_costs_a_read_and_a_write_one_timeout_not_a_stall(
    db: Database, throwaway_redis: RedisServer
) -> None:
    """The server accepts connections but never answers (SIGSTOP): each new connection's set-up
    must time out once, not retry its health check into itself until the recursion limit."""
    org_id = await make_org(db, "hung-org")
    store = CacheStore(CacheHub(throwaway_redis.url))
    try:
        throwaway_redis.freeze()
        assert await asyncio.wait_for(read(store, db, org_id), 10) == (1, "bypass")
        store.hub.breaker.record_success()  # try Redis again rather than skip it
        assert not await asyncio.wait_for(write(store, db, org_id), 10)
        assert store.is_dirty(org_id, ["org"])
    finally:
        throwaway_redis.thaw()
        await store.close()
