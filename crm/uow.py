"""One transaction per request's writes, with what must happen after commit.

    async with write_transaction(db) as tx:
        row = await queries.update_deal(tx.db, ...)
        await tx.event(org, "deal.updated", actor=user_id, data=row_dict)
        tx.invalidate(org, "deals", "dashboard")
        tx.invalidate_user(user_id, "me")          # what the user's own /me shows
    # committed: generations bumped, events published

Nothing queued runs if the transaction rolls back. The invalidations are also written to
`cache_invalidations` just before commit, so that they survive this process: if it dies
before its bumps land, the outbox relay applies them (crm/cache/invalidations.py).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from databases import Database
from quart import current_app, has_app_context

from crm import cache
from crm.cache import invalidations
from crm.redis import RedisHub
from realtime import publish


class WriteTransaction:
    def __init__(self, db: Database, hub: RedisHub) -> None:
        self.db = db
        self.hub = hub
        self.events: list[dict[str, Any]] = []
        self.invalidations: dict[cache.Owner, set[str]] = {}
        self.recorded: dict[cache.Owner, int] = {}  # owner -> its cache_invalidations row
        self.fenced: set[cache.Owner] = set()  # owners whose fence landed before the commit
        self.fence_id = secrets.token_hex(8)  # this writer's entry in each fence it sets

    async def event(
        self,
        org_id: int,
        type: str,
        *,
        actor: int | None,
        data: dict[str, Any],
        audience: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the event to the outbox (in this transaction) and publish it after commit."""
        envelope = await publish.record(self.db, org_id=org_id, type=type, actor=actor, data=data, audience=audience)
        self.events.append(envelope)
        return envelope

    def invalidate(self, org_id: int, *domains: str) -> None:
        self.invalidations.setdefault(org_id, set()).update(domains)

    def invalidate_user(self, user_id: int, *domains: str) -> None:
        """Bump a user's own generations (`me`: their profile and list of orgs) after commit."""
        self.invalidations.setdefault(cache.UserScope(user_id), set()).update(domains)

    async def before_commit(self) -> None:
        """Record the invalidations in the transaction, then fence their domains in Redis
        (call last inside it): from the fence to the bump, reads of those views bypass the
        cache, so none that starts after the commit is answered from an older entry."""
        if self.invalidations:
            self.recorded = await invalidations.record(self.db, self.invalidations)
            owners = list(self.invalidations)
            landed = await asyncio.gather(
                *(cache.fence(self.hub, o, *self.invalidations[o], fence_id=self.fence_id) for o in owners)
            )
            self.fenced = {owner for owner, ok in zip(owners, landed, strict=True) if ok}

    async def rolled_back(self) -> None:
        """The transaction did not commit: give the fences back (no bump: nothing changed)."""
        for owner in self.fenced:
            await cache.unfence(self.hub, owner, *self.invalidations[owner], fence_id=self.fence_id)
        self.fenced = set()

    async def commit_unknown(self) -> None:
        """The COMMIT itself failed or was cancelled: it may have landed. Bump as if it had
        (after a real rollback that costs only misses); its cache_invalidations row, if it
        committed, stays for the relay, which bumps again."""
        for owner, domains in self.invalidations.items():
            fence_id = self.fence_id if owner in self.fenced else None
            await cache.bump(self.hub, owner, *sorted(domains), fence_id=fence_id)
        self.fenced = set()

    async def after_commit(self) -> None:
        landed = []
        for owner, domains in self.invalidations.items():
            fence_id = self.fence_id if owner in self.fenced else None
            bumped = await cache.bump(self.hub, owner, *sorted(domains), fence_id=fence_id)
            if bumped and owner in self.recorded:
                landed.append(self.recorded[owner])
        if landed and has_app_context() and (acks := current_app.extensions.get("cache_acks")) is not None:
            acks.add(landed)  # a deferred bump keeps its row: the relay applies it if this process dies
        if self.events:
            await publish.deliver(self.events)


# Test-only: die like a killed machine right after a commit that invalidates, before any bump
# (tests/realtime/test_cache_crash.py). Never set outside tests.
CRASH_AFTER_COMMIT = os.environ.get("TINYCRM_TEST_CRASH_AFTER_COMMIT") == "1"


@asynccontextmanager
async def write_transaction(db: Database | None = None) -> AsyncIterator[WriteTransaction]:
    db = db or current_app.extensions["db"]
    tx = WriteTransaction(db, current_app.extensions["redis"])
    committing = False
    try:
        async with db.transaction():
            yield tx
            await tx.before_commit()
            committing = True
    except BaseException:
        # before the COMMIT: rolled back, give the fences back; at the COMMIT: it may have landed
        await asyncio.shield(tx.commit_unknown() if committing else tx.rolled_back())
        raise
    if CRASH_AFTER_COMMIT and tx.invalidations:
        os.kill(os.getpid(), signal.SIGKILL)
    await tx.after_commit()
