"""Invalidations that outlive their writer: recorded with the change, acknowledged after the
bump, and applied by the sweeper when nobody acknowledged them (the writer died, or could
not reach Redis). Real PostgreSQL and Redis; "another process" is another CacheStore with
its own connections and breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from databases import Database
from quart import Quart

from crm import cache
from crm.cache import invalidations, keys
from crm.cache.store import CacheHub, CacheStore
from crm.redis import RedisHub
from crm.uow import WriteTransaction, write_transaction
from tests.cache.conftest import RedisServer, make_org
from tests.cache.support import created, expire_fences, ok
from tests.helpers import User

DIGEST = keys.digest({})


@pytest.fixture
async def processes(redis_url: str) -> AsyncIterator[dict[str, CacheStore]]:
    """Cache stores of three would-be processes on the worker's Redis: a reader, a sweeper, and
    the store a `WriteTransaction` on `writer_hub` bumps through."""
    stores = {"reader": CacheStore(CacheHub(redis_url)), "sweeper": CacheStore(CacheHub(redis_url))}
    yield stores
    for store in stores.values():
        await store.close()


@pytest.fixture
async def writer_hub(redis_url: str) -> AsyncIterator[RedisHub]:
    hub = RedisHub(redis_url)
    yield hub
    await cache.store_for(hub).close()
    await hub.close()


async def select_version(db: Database, org_id: int) -> bytes:
    return str(await db.fetch_val("SELECT version FROM orgs WHERE id = :id", {"id": org_id})).encode()


async def read(store: CacheStore, db: Database, org_id: int) -> tuple[int, str]:
    raw, outcome = await store.get_or_compute(
        org_id=org_id, kind="org", depends=("org",), digest=DIGEST, ttl=600, compute=lambda: select_version(db, org_id)
    )
    return int(raw), outcome


async def commit_rename(db: Database, hub: RedisHub, org_id: int, *, after_commit: bool) -> None:
    """A write that invalidates the org's "org" views; without `after_commit` its process dies
    between commit and bump (nothing after the commit runs)."""
    tx = WriteTransaction(db, hub)
    async with db.transaction():
        await db.execute("UPDATE orgs SET version = version + 1 WHERE id = :id", {"id": org_id})
        tx.invalidate(org_id, "org")
        await tx.before_commit()
    if after_commit:
        await tx.after_commit()


async def pending(db: Database) -> list[tuple[int, list[str]]]:
    rows = await db.fetch_all("SELECT org_id, domains FROM cache_invalidations ORDER BY id")
    return [(int(r["org_id"]), list(r["domains"])) for r in rows]


async def test_a_write_whose_process_died_before_its_bump_is_served_fresh_at_once_and_cached_after_the_sweep(
    db: Database, writer_hub: RedisHub, processes: dict[str, CacheStore]
) -> None:
    org_id = await make_org(db, "died-org")
    reader = processes["reader"]
    assert await read(reader, db, org_id) == (1, "miss")
    assert await read(reader, db, org_id) == (1, "hit")

    await commit_rename(db, writer_hub, org_id, after_commit=False)
    assert await pending(db) == [(org_id, ["org"])]
    # the writer's fence, set before its commit, sends every other process to PostgreSQL
    assert await read(reader, db, org_id) == (2, "bypass")

    assert await invalidations.sweep(db, processes["sweeper"], older_than=0) == 1
    assert await pending(db) == []
    assert await read(reader, db, org_id) == (2, "bypass")  # the dead writer's fence lives on
    await expire_fences(writer_hub, org_id, "org")
    assert await read(reader, db, org_id) == (2, "miss")
    assert await read(reader, db, org_id) == (2, "hit")


async def test_without_its_fence_a_dead_writers_entry_is_stale_until_the_sweep(
    db: Database, writer_hub: RedisHub, processes: dict[str, CacheStore]
) -> None:
    """What the fence closes: the same death, its fence gone (expired before any relay swept)."""
    org_id = await make_org(db, "unfenced-org")
    reader = processes["reader"]
    assert await read(reader, db, org_id) == (1, "miss")
    await commit_rename(db, writer_hub, org_id, after_commit=False)
    await expire_fences(writer_hub, org_id, "org")
    assert await read(reader, db, org_id) == (1, "hit")
    assert await invalidations.sweep(db, processes["sweeper"], older_than=0) == 1
    assert await read(reader, db, org_id) == (2, "miss")


async def test_the_sweeper_leaves_rows_younger_than_its_age_to_their_writer(
    db: Database, writer_hub: RedisHub, processes: dict[str, CacheStore]
) -> None:
    org_id = await make_org(db, "young-org")
    await commit_rename(db, writer_hub, org_id, after_commit=False)
    assert await invalidations.sweep(db, processes["sweeper"], older_than=60) == 0
    assert await pending(db) == [(org_id, ["org"])]


async def test_a_deferred_bump_keeps_its_row_after_its_process_is_gone_and_the_sweeper_applies_it(
    db: Database, writer_hub: RedisHub, processes: dict[str, CacheStore]
) -> None:
    """The writer cannot reach Redis when it commits (the others can), then dies with its dirty set."""
    org_id = await make_org(db, "partitioned-org")
    reader = processes["reader"]
    assert await read(reader, db, org_id) == (1, "miss")

    writer = cache.store_for(writer_hub)
    writer.hub.breaker.record_failure(ConnectionError("unreachable from the writer"))
    await commit_rename(db, writer_hub, org_id, after_commit=True)
    assert writer.is_dirty(org_id, ["org"])
    assert await pending(db) == [(org_id, ["org"])]  # not acknowledged: the bump did not land
    await writer.close()  # the process is gone, and its retries with it

    assert await read(reader, db, org_id) == (1, "hit")
    assert await invalidations.sweep(db, processes["sweeper"], older_than=0) == 1
    assert await read(reader, db, org_id) == (2, "miss")


async def test_one_transaction_that_invalidates_two_orgs_records_and_sweeps_both(
    db: Database, writer_hub: RedisHub, processes: dict[str, CacheStore]
) -> None:
    first, second = await make_org(db, "first-org"), await make_org(db, "second-org")
    reader = processes["reader"]
    assert [await read(reader, db, first), await read(reader, db, second)] == [(1, "miss"), (1, "miss")]
    tx = WriteTransaction(db, writer_hub)
    async with db.transaction():
        await db.execute("UPDATE orgs SET version = version + 1 WHERE id IN (:a, :b)", {"a": first, "b": second})
        tx.invalidate(first, "org", "members")
        tx.invalidate(second, "org")
        await tx.before_commit()
    assert sorted(await pending(db)) == [(first, ["members", "org"]), (second, ["org"])]
    assert [await read(reader, db, first), await read(reader, db, second)] == [(2, "bypass"), (2, "bypass")]
    assert await invalidations.sweep(db, processes["sweeper"], older_than=0) == 2
    await expire_fences(writer_hub, first, "org", "members")
    await expire_fences(writer_hub, second, "org")
    assert [await read(reader, db, first), await read(reader, db, second)] == [(2, "miss"), (2, "miss")]


async def test_a_sweep_while_redis_is_down_keeps_its_rows_for_the_next_round(
    db: Database, throwaway_redis: RedisServer
) -> None:
    org_id = await make_org(db, "down-sweep-org")
    hub = RedisHub(throwaway_redis.url)
    sweeper = CacheStore(CacheHub(throwaway_redis.url))
    try:
        await commit_rename(db, hub, org_id, after_commit=False)
        await throwaway_redis.stop()
        with pytest.raises(invalidations.BumpFailed):
            await invalidations.sweep(db, sweeper, older_than=0)
        assert await pending(db) == [(org_id, ["org"])]
        assert not sweeper.dirty  # the sweeper retries from PostgreSQL, not from memory

        await throwaway_redis.start()
        sweeper.hub.breaker.record_success()  # the cool-down is over
        assert await invalidations.sweep(db, sweeper, older_than=0) == 1
        assert await pending(db) == []
    finally:
        await sweeper.close()
        await cache.store_for(hub).close()
        await hub.close()


async def test_a_finished_write_acknowledges_its_row_and_a_rolled_back_one_records_none(
    app: Quart, alice: User, org: dict[str, Any], base: str
) -> None:
    db: Database = app.extensions["db"]
    acks: invalidations.Acks = app.extensions["cache_acks"]
    contact = await created(alice, f"{base}/contacts", {"first_name": "Jane", "last_name": "Doe"})
    await ok(alice, "PATCH", f"{base}/contacts/{contact['id']}", {"title": "CTO", "version": 1})
    await asyncio.wait_for(acks.settle(), 5)
    assert await pending(db) == []

    async with app.app_context():
        with pytest.raises(RuntimeError):
            async with write_transaction(db) as tx:
                tx.invalidate(int(org["id"]), "contacts")
                raise RuntimeError("the write failed")
    assert await pending(db) == []


async def test_a_write_whose_bump_is_deferred_keeps_its_row_for_the_sweeper(
    app: Quart, alice: User, org: dict[str, Any], base: str
) -> None:
    db: Database = app.extensions["db"]
    store: CacheStore = app.extensions["cache"]
    store.hub.breaker.record_failure(ConnectionError("unreachable"))
    try:
        await created(alice, f"{base}/contacts", {"first_name": "Jane", "last_name": "Doe"})
    finally:
        store.hub.breaker.record_success()
    await asyncio.wait_for(app.extensions["cache_acks"].settle(), 5)
    assert await pending(db) == [(int(org["id"]), ["contacts", "dashboard", "search"])]
    await store.flush_deferred()
    assert not store.dirty


async def test_an_acknowledgement_skips_a_row_a_sweeper_holds_instead_of_waiting(
    db: Database, writer_hub: RedisHub, sql: asyncpg.Connection
) -> None:
    org_id = await make_org(db, "held-org")
    await commit_rename(db, writer_hub, org_id, after_commit=False)
    row_id = await sql.fetchval("SELECT id FROM cache_invalidations")
    async with sql.transaction():
        await sql.execute("SELECT id FROM cache_invalidations WHERE id = $1 FOR UPDATE", row_id)
        await asyncio.wait_for(invalidations.delete_acknowledged(db, [row_id]), 5)
    assert await pending(db) == [(org_id, ["org"])]  # the holder (a sweeper) deletes it once bumped
