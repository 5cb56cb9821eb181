"""The cache: org-scoped keys under per-domain generations (see docs/redis.md).

Writers bump the generations of the domains they change **after commit**;
readers read the generation **before** querying PostgreSQL and store the
result under it, so a result computed before a write can never be served after it.
A user's own views (/me) live under the user instead of an org, with the same rules.

Features use it through these entry points, never by building keys:

    stats = await cache.cached(org_id=org.id, kind="dashboard:stats", depends=STATS_DOMAINS,
                               params={}, ttl=600, compute=lambda: queries.select_stats(db, org_id=org.id))
    own = await cache.cached_for_user(user_id=user_id, kind="me", depends=("me",), ...)

    @cached_response("contacts:list", depends=("contacts",), ttl=60)   # a whole GET response
    @composed_response                                                 # a GET built from cached views
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from quart import Quart, current_app

from crm.cache import keys
from crm.cache.http import cached_response, composed_response, note_outcome, utc_day
from crm.cache.invalidations import Acks
from crm.cache.keys import Owner, UserScope
from crm.cache.store import CacheHub, CacheStore, Lookup
from crm.jsonprovider import dumps
from crm.redis import RedisHub

_STORES: weakref.WeakKeyDictionary[RedisHub, CacheStore] = weakref.WeakKeyDictionary()

TTL_STATS = 600
TTL_RECORD = 600
TTL_LIST = 60
TTL_PERMISSIONS = 300


def generation_key(org_id: int, domain: str) -> str:
    return keys.generation_key(org_id, domain)


def store_for(hub: RedisHub) -> CacheStore:
    """The cache store that goes with this hub (made on first use outside an app)."""
    store = _STORES.get(hub)
    if store is None:
        store = CacheStore(CacheHub(hub.url))
        _STORES[hub] = store
    return store


def get_cache() -> CacheStore:
    store: CacheStore = current_app.extensions["cache"]
    return store


async def bump(hub: RedisHub, org_id: Owner, *domains: str, fence_id: str | None = None) -> bool:
    """Invalidate every cached view of these domains in this org, or of this `UserScope` (after commit).

    `fence_id`: this writer's `fence()` of the same domains (the bump gives it back).
    False when the bump was deferred (Redis unreachable): this process retries it, and the
    outbox relay applies it from `cache_invalidations` if the process dies first.
    """
    if not domains:
        return True
    return await store_for(hub).bump(org_id, domains, fence_id=fence_id)


async def fence(hub: RedisHub, org_id: Owner, *domains: str, fence_id: str) -> bool:
    """Just before the commit of a write to these domains: reads bypass their views until the bump."""
    return await store_for(hub).fence(org_id, domains, fence_id)


async def unfence(hub: RedisHub, org_id: Owner, *domains: str, fence_id: str) -> None:
    """A fence given back: the write did not commit."""
    await store_for(hub).unfence(org_id, domains, fence_id)


async def cached(
    *,
    org_id: Owner,
    kind: str,
    depends: Iterable[str],
    params: Mapping[str, Any],
    ttl: int,
    compute: Callable[[], Awaitable[Any]],
    defaults: Mapping[str, Any] | None = None,
    single_flight: bool = True,
) -> Any:
    """The JSON value of a view, from the cache or from `compute()` (then stored).

    A hit and a miss answer the same shapes: the computed value goes through
    orjson both ways, so dates are ISO strings either way.
    """

    async def encoded() -> bytes:
        return dumps(await compute())

    raw, outcome = await get_cache().get_or_compute(
        org_id=org_id,
        kind=kind,
        depends=depends,
        digest=keys.digest(params, defaults),
        ttl=ttl,
        compute=encoded,
        single_flight=single_flight,
    )
    note_outcome(outcome)
    return orjson.loads(raw)


async def cached_for_user(
    *,
    user_id: int,
    kind: str,
    depends: Iterable[str],
    params: Mapping[str, Any],
    ttl: int,
    compute: Callable[[], Awaitable[Any]],
) -> Any:
    """`cached()` for a view of one user's own (/me), under the user's generations, not an org's."""
    return await cached(org_id=UserScope(user_id), kind=kind, depends=depends, params=params, ttl=ttl, compute=compute)


@dataclass(frozen=True)
class View:
    """One view for `cached_many()`: `cached()`'s arguments but the org."""

    kind: str
    depends: tuple[str, ...]
    params: Mapping[str, Any]
    ttl: int
    compute: Callable[[], Awaitable[Any]]
    single_flight: bool = True


LookedUp = tuple[int, list[tuple[str, tuple[str, ...], str]], list[Lookup]]


async def cached_many(
    org_id: int,
    views: list[View],
    *,
    also: tuple[str, tuple[str, ...], str] | None = None,
    looked_up: LookedUp | None = None,
) -> tuple[list[Any], Lookup | None]:
    """`cached()` for several views of one org: the lookups (generations and values) take one
    round trip together; each miss is then computed and stored as `cached()` would.

    `also` (kind, depends, digest) is looked up in the same round trip and answered as it was
    found (a `Lookup`), for the caller to finish later with `CacheStore.finish_lookup()`.

    `looked_up` (org id, views, lookups) is a `lookup_many()` of exactly these views (and
    `also`) made earlier in this request, before anything was computed (crm.edge's): used
    instead of asking Redis again when it matches, else ignored.
    """
    store = get_cache()
    digests = [keys.digest(view.params) for view in views]
    wanted = [(v.kind, tuple(v.depends), d) for v, d in zip(views, digests, strict=True)]
    if also is not None:
        wanted.append(also)
    if looked_up is not None and looked_up[0] == org_id and looked_up[1] == wanted:
        found = list(looked_up[2])
    else:
        found = await store.lookup_many(org_id, wanted)
    extra = None if also is None else found.pop()
    results = []
    for view, digest, lookup in zip(views, digests, found, strict=True):

        async def encoded(view: View = view) -> bytes:
            return dumps(await view.compute())

        raw, outcome = await store.finish_lookup(
            lookup,
            org_id=org_id,
            kind=view.kind,
            depends=tuple(view.depends),
            digest=digest,
            ttl=view.ttl,
            compute=encoded,
            single_flight=view.single_flight,
        )
        note_outcome(outcome)
        results.append(orjson.loads(raw))
    return results, extra


def init_app(app: Quart) -> None:
    """Open the cache store when the app starts serving and close it after."""

    async def open_store(app: Quart) -> None:
        config = app.config["TINYCRM"]
        hub: RedisHub = app.extensions["redis"]
        # a separate instance (allkeys-lru) for caches is recommended in production: docs/redis.md
        url = os.environ.get("CACHE_REDIS_URL") or hub.url
        store = CacheStore(CacheHub(url, max_connections=config.redis_pool_max))
        app.extensions["cache"] = store
        _STORES[hub] = store
        app.extensions["cache_acks"] = Acks(app.extensions["db"])

    async def close_store(app: Quart) -> None:
        acks = app.extensions.pop("cache_acks", None)
        if acks is not None:
            await acks.close()
        store = app.extensions.pop("cache", None)
        if store is not None:
            await store.close()

    app.extensions.setdefault("tinycrm_startup", []).append(open_store)
    app.extensions.setdefault("tinycrm_shutdown", []).append(close_store)


__all__ = [
    "TTL_LIST",
    "TTL_PERMISSIONS",
    "TTL_RECORD",
    "TTL_STATS",
    "CacheStore",
    "Lookup",
    "Owner",
    "UserScope",
    "View",
    "bump",
    "cached",
    "cached_for_user",
    "cached_many",
    "cached_response",
    "composed_response",
    "generation_key",
    "get_cache",
    "init_app",
    "store_for",
    "utc_day",
]
