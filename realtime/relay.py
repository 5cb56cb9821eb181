"""The outbox relay: applies cache invalidations nobody acknowledged, publishes what was
committed but not published, and prunes old events.

It runs in every web process (a background task started with the app), so
there is nothing extra to deploy. Several relays share the work safely: each
batch is taken with `FOR UPDATE SKIP LOCKED` in one transaction that commits
only once the batch is out, so an event is never lost and rarely sent twice
(and instances drop duplicates by seq). Events younger than AGE seconds are
left to the normal after-commit path, so the relay does not race it.

Cache invalidations (`cache_invalidations`, crm/cache/invalidations.py) go the same way:
older than AGE and not acknowledged means the writer died or could not reach Redis, so
the relay bumps the generations and deletes the rows. Each round sweeps them before it
publishes events, and a stranded event's org has its pending invalidations applied just
before the event goes out, so a client reacting to it reads the change from the cache.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from databases import Database

from crm.cache import invalidations
from crm.cache.store import CacheStore
from realtime import outbox
from realtime.bus import EventBus

log = logging.getLogger(__name__)

INTERVAL = float(os.environ.get("TINYCRM_RELAY_INTERVAL", "0.5"))
AGE = float(os.environ.get("TINYCRM_RELAY_AGE", "1.0"))
BATCH = 500
PRUNE_EVERY = 600.0
PRUNE_LOCK = 0x7C3A_0E7E


async def relay_once(
    db: Database, bus: EventBus, *, older_than: float = AGE, limit: int = BATCH, cache: CacheStore | None = None
) -> int:
    """Publish one batch of stranded events; how many went out (raises if Redis is down).

    With `cache`, the events' orgs get their pending invalidations applied first.
    """
    async with db.transaction():
        events = await outbox.select_unpublished_for_update(db, older_than=older_than, limit=limit)
        if events:
            if cache is not None and not await invalidations.apply_for_orgs(db, cache, {e["org"] for e in events}):
                log.warning("relaying %d events while their cache invalidations wait for Redis", len(events))
            await bus.publish(events)
    if events:
        log.info("relay published %d stranded events", len(events))
    return len(events)


async def prune_once(db: Database) -> int:
    """Delete events past retention (one instance at a time); how many went."""
    removed = 0
    async with db.transaction():
        if not await db.fetch_val("SELECT pg_try_advisory_xact_lock(:key)", {"key": PRUNE_LOCK}):
            return 0
        while batch := await outbox.delete_expired_events(db):
            removed += batch
    return removed


async def run(app: Any) -> None:
    """Relay forever; failures (Redis down, a restart of PostgreSQL) are retried next round."""
    bus: EventBus = app.extensions["event_bus"]
    last_prune = 0.0
    while True:
        published = swept = 0
        cache: CacheStore | None = app.extensions.get("cache")
        if cache is not None:
            try:
                swept = await invalidations.sweep(app.extensions["db"], cache, older_than=AGE)
            except invalidations.BumpFailed as error:
                log.debug("cache sweep waits for Redis: %s", error)
            except Exception as error:
                log.warning("cache sweep failed: %s", error)
        try:
            db = app.extensions["db"]
            published = await relay_once(db, bus, cache=cache)
            if time.monotonic() - last_prune > PRUNE_EVERY:
                last_prune = time.monotonic()
                if removed := await prune_once(db):
                    log.info("pruned %d events older than %d days", removed, outbox.RETENTION_DAYS)
        except Exception as error:
            log.warning("relay round failed: %s", error)
        # a full batch means more may be waiting
        full = published >= BATCH or swept >= invalidations.SWEEP_BATCH
        await asyncio.sleep(0 if full else INTERVAL)
