"""Durable invalidations: the cache's outbox in PostgreSQL (docs/redis.md, "After a crash").

A write transaction that invalidates cached views records its (owner, domains) in
`cache_invalidations` before it commits (`record`; the owner is an org, or a user for /me's
views), so the invalidation commits or rolls back with the change. After commit the
writer bumps the generations and acknowledges its rows (`Acks`: deleted in batches, off
the request path). The outbox relay runs `sweep`: it bumps whatever nobody acknowledged
within a short age (the writer died between commit and bump, or could not reach Redis)
and deletes it. A lost acknowledgement costs one redundant bump (a cache miss), never a
stale read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from databases import Database

from crm import metrics
from crm.cache.keys import Owner, UserScope
from crm.cache.store import CacheStore

log = logging.getLogger(__name__)

SWEEP_BATCH = 2000
ACK_EVERY = 0.1  # seconds between acknowledgement batches
ACK_BATCH = 5000


class BumpFailed(Exception):
    """Redis did not take a bump; the rows stay for the next sweep."""


async def record(db: Database, changes: Mapping[Owner, Iterable[str]]) -> dict[Owner, int]:
    """In the writing transaction: one row per owner (org or user); answers owner -> row id."""
    owners = list(changes)
    rows = await db.fetch_all(
        "INSERT INTO cache_invalidations (org_id, user_id, domains)"
        " SELECT org_id, user_id, string_to_array(domains, ',')"
        " FROM unnest(CAST(:orgs AS bigint[]), CAST(:users AS bigint[]), CAST(:domains AS text[]))"
        " AS t(org_id, user_id, domains)"
        " RETURNING id, org_id, user_id",
        {
            "orgs": [None if isinstance(owner, UserScope) else owner for owner in owners],
            "users": [owner.user_id if isinstance(owner, UserScope) else None for owner in owners],
            "domains": [",".join(sorted(set(changes[owner]))) for owner in owners],
        },
    )
    return {owner_of(row): int(row["id"]) for row in rows}


def owner_of(row: Any) -> Owner:
    return UserScope(int(row["user_id"])) if row["org_id"] is None else int(row["org_id"])


async def select_unacknowledged_for_update(db: Database, *, older_than: float, limit: int) -> list[Any]:
    """Rows older than `older_than` seconds, locked (SKIP LOCKED: each goes to one sweeper)."""
    return await db.fetch_all(
        "SELECT id, org_id, user_id, domains FROM cache_invalidations"
        " WHERE created_at < now() - make_interval(secs => :age)"
        " ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED",
        {"age": older_than, "limit": limit},
    )


async def select_of_orgs_for_update(db: Database, *, org_ids: list[int]) -> list[Any]:
    """Every row of these orgs, and every user's row (which users an org's event concerns is not
    recorded; such rows are few), whatever its age; waits for a sweeper that holds some."""
    return await db.fetch_all(
        "SELECT id, org_id, user_id, domains FROM cache_invalidations"
        " WHERE org_id = ANY(CAST(:orgs AS bigint[])) OR user_id IS NOT NULL"
        " ORDER BY id FOR UPDATE",
        {"orgs": org_ids},
    )


async def delete_invalidations(db: Database, ids: list[int]) -> None:
    await db.execute("DELETE FROM cache_invalidations WHERE id = ANY(CAST(:ids AS bigint[]))", {"ids": ids})


async def delete_acknowledged(db: Database, ids: list[int]) -> None:
    # a row a sweeper holds is being bumped and deleted by it: skip it rather than wait
    await db.execute(
        "DELETE FROM cache_invalidations WHERE id IN (SELECT id FROM cache_invalidations"
        " WHERE id = ANY(CAST(:ids AS bigint[])) FOR UPDATE SKIP LOCKED)",
        {"ids": ids},
    )


async def _bump_rows(store: CacheStore, rows: list[Any]) -> None:
    """Bump every generation the rows name, one call per owner; BumpFailed if Redis refused one."""
    by_owner: dict[Owner, set[str]] = {}
    for row in rows:
        by_owner.setdefault(owner_of(row), set()).update(row["domains"])
    for owner, domains in by_owner.items():
        if not await store.bump(owner, domains, defer=False):
            raise BumpFailed(f"cache redis refused the bump of {owner}")


async def sweep(db: Database, store: CacheStore, *, older_than: float, limit: int = SWEEP_BATCH) -> int:
    """Apply one batch of invalidations nobody acknowledged; how many rows (BumpFailed if Redis is down)."""
    async with db.transaction():
        rows = await select_unacknowledged_for_update(db, older_than=older_than, limit=limit)
        if rows:
            await _bump_rows(store, rows)
            await delete_invalidations(db, [int(row["id"]) for row in rows])
    if rows:
        metrics.CACHE_INVALIDATIONS_SWEPT.inc(len(rows))
        log.info("applied %d invalidations that no writer acknowledged", len(rows))
    return len(rows)


async def apply_for_orgs(db: Database, store: CacheStore, org_ids: Iterable[int]) -> bool:
    """Before the relay publishes stranded events: bump these orgs' pending invalidations (and
    the users', such as a `member.changed` one's /me), so a client that reacts to such an event
    reads the change. Runs in the caller's transaction; False (rows kept) if Redis refused."""
    rows = await select_of_orgs_for_update(db, org_ids=sorted(set(org_ids)))
    if not rows:
        return True
    try:
        await _bump_rows(store, rows)
    except BumpFailed:
        return False
    await delete_invalidations(db, [int(row["id"]) for row in rows])
    metrics.CACHE_INVALIDATIONS_SWEPT.inc(len(rows))
    return True


class Acks:
    """Rows whose bump landed, deleted in batches by one background task of the process."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ids: list[int] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, ids: Iterable[int]) -> None:
        self.ids.extend(ids)
        if self.ids and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self.ids:
            await asyncio.sleep(ACK_EVERY)  # gather the acknowledgements of concurrent writes
            await self.flush()

    async def flush(self) -> None:
        """Delete one batch; on failure it is left to the sweeper (one redundant bump a row)."""
        batch, self.ids = self.ids[:ACK_BATCH], self.ids[ACK_BATCH:]
        if not batch:
            return
        try:
            await delete_acknowledged(self.db, batch)
        except Exception as error:
            log.warning("acknowledging %d cache invalidations failed (the sweeper bumps them): %s", len(batch), error)

    async def settle(self) -> None:
        """Wait until every acknowledgement handed in so far was deleted (or left to the sweeper)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self.ids:
            await self.flush()
