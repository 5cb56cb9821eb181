"""One transaction per request's writes, with what must happen after commit.

    async with write_transaction(db) as tx:
        row = await queries.update_deal(tx.db, ...)
        await tx.event(org, "deal.updated", actor=user_id, data=row_dict)
        tx.invalidate(org, "deals", "dashboard")
    # committed: generations bumped, events published

Nothing queued runs if the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from databases import Database
from quart import current_app

from crm import cache
from crm.redis import RedisHub
from realtime import publish


class WriteTransaction:
    def __init__(self, db: Database, hub: RedisHub) -> None:
        self.db = db
        self.hub = hub
        self.events: list[dict[str, Any]] = []
        self.invalidations: dict[int, set[str]] = {}

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

    async def after_commit(self) -> None:
        for org_id, domains in self.invalidations.items():
            await cache.bump(self.hub, org_id, *sorted(domains))
        if self.events:
            await publish.deliver(self.events)


@asynccontextmanager
async def write_transaction(db: Database | None = None) -> AsyncIterator[WriteTransaction]:
    db = db or current_app.extensions["db"]
    tx = WriteTransaction(db, current_app.extensions["redis"])
    async with db.transaction():
        yield tx
    await tx.after_commit()
