"""A user's /me invalidations outlive their writer, like an org's (tests/cache/test_invalidations.py):
recorded with the change as a `user_id` row, applied by the sweeper when nobody acknowledged
them, and by the relay before it publishes a stranded event of an org. Real PostgreSQL and
Redis; "another process" is another CacheStore with its own connections and breaker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from databases import Database

from crm import cache
from crm.cache import invalidations, keys
from crm.cache.store import CacheHub, CacheStore
from crm.redis import RedisHub
from crm.uow import WriteTransaction
from tests.cache.conftest import make_org
from tests.cache.support import expire_fences

DIGEST = keys.digest({})


@pytest.fixture
async def reader(redis_url: str) -> AsyncIterator[CacheStore]:
    store = CacheStore(CacheHub(redis_url))
    yield store
    await store.close()


@pytest.fixture
async def sweeper(redis_url: str) -> AsyncIterator[CacheStore]:
    store = CacheStore(CacheHub(redis_url))
    yield store
    await store.close()


@pytest.fixture
async def writer_hub(redis_url: str) -> AsyncIterator[RedisHub]:
    hub = RedisHub(redis_url)
    yield hub
    await cache.store_for(hub).close()
    await hub.close()


async def make_user(db: Database, name: str) -> int:
    user_id = await db.fetch_val(
        "INSERT INTO users (email, name) VALUES (:email, :name) RETURNING id",
        {"email": f"{name}@example.com", "name": name},
    )
    return int(user_id)


async def read_name(store: CacheStore, db: Database, user_id: int) -> tuple[str, str]:
    """The user's name as a /me-like view of theirs (owner `UserScope`, domain `me`) serves it."""

    async def select() -> bytes:
        return str(await db.fetch_val("SELECT name FROM users WHERE id = :id", {"id": user_id})).encode()

    raw, outcome = await store.get_or_compute(
        org_id=keys.UserScope(user_id), kind="me", depends=("me",), digest=DIGEST, ttl=600, compute=select
    )
    return raw.decode(), outcome


async def commit_user_rename(
    db: Database, hub: RedisHub, user_id: int, name: str, *, org_id: int | None = None
) -> None:
    """Rename the user and invalidate their /me; the process dies between commit and bump. With
    `org_id`, the transaction invalidates that org's members too, as a membership change does
    (whose `member.changed` event the relay would then find stranded)."""
    tx = WriteTransaction(db, hub)
    async with db.transaction():
        await db.execute("UPDATE users SET name = :name WHERE id = :id", {"id": user_id, "name": name})
        tx.invalidate_user(user_id, "me")
        if org_id is not None:
            tx.invalidate(org_id, "members")
        await tx.before_commit()


async def pending(db: Database) -> list[tuple[Any, list[str]]]:
    rows = await db.fetch_all("SELECT org_id, user_id, domains FROM cache_invalidations ORDER BY id")
    return [(invalidations.owner_of(r), list(r["domains"])) for r in rows]


async def test_a_users_invalidation_whose_writer_died_is_applied_by_the_sweeper(
    db: Database, writer_hub: RedisHub, reader: CacheStore, sweeper: CacheStore
) -> None:
    user_id = await make_user(db, "ann")
    assert await read_name(reader, db, user_id) == ("ann", "miss")
    await commit_user_rename(db, writer_hub, user_id, "ann renamed")
    assert await pending(db) == [(keys.UserScope(user_id), ["me"])]
    assert await read_name(reader, db, user_id) == ("ann renamed", "bypass")  # the writer's fence

    assert await invalidations.sweep(db, sweeper, older_than=0) == 1
    assert await pending(db) == []
    await expire_fences(writer_hub, keys.UserScope(user_id), "me")
    assert await read_name(reader, db, user_id) == ("ann renamed", "miss")


async def test_the_relay_applies_a_users_pending_invalidation_before_a_stranded_event_of_an_org(
    db: Database, writer_hub: RedisHub, reader: CacheStore, sweeper: CacheStore
) -> None:
    user_id, org_id = await make_user(db, "ben"), await make_org(db, "stranded-org")
    assert await read_name(reader, db, user_id) == ("ben", "miss")
    await commit_user_rename(db, writer_hub, user_id, "ben renamed", org_id=org_id)
    assert sorted(await pending(db), key=str) == [(org_id, ["members"]), (keys.UserScope(user_id), ["me"])]

    async with db.transaction():  # what the relay does before it publishes the org's event
        assert await invalidations.apply_for_orgs(db, sweeper, [org_id])
    await expire_fences(writer_hub, keys.UserScope(user_id), "me")
    assert await read_name(reader, db, user_id) == ("ben renamed", "miss")
    assert await pending(db) == []
