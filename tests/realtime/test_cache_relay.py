"""The relay applies a dead writer's cache invalidations along with its stranded events."""

from __future__ import annotations

import secrets
from typing import Any

import socketio
from quart import Quart

from crm.cache import keys
from crm.cache.store import CacheStore
from crm.config import Config
from crm.uow import WriteTransaction
from realtime import relay
from realtime.bus import EventBus


async def test_relaying_a_stranded_event_first_applies_its_orgs_pending_invalidations(
    app: Quart, config: Config, alice: Any, org: dict[str, Any]
) -> None:
    db = app.extensions["db"]
    store: CacheStore = app.extensions["cache"]
    generation = keys.generation_key(org["id"], "contacts")
    assert await store.bump(org["id"], ["contacts"])
    before = int(await store.hub.client.get(generation))
    async with app.app_context():
        tx = WriteTransaction(db, app.extensions["redis"])
        async with db.transaction():
            await tx.event(org["id"], "note.added", actor=alice.id, data={"n": 1})
            tx.invalidate(org["id"], "contacts")
            await tx.before_commit()
        # the writer dies here: neither its bump nor its publish happens

    bus = EventBus(
        socketio.AsyncServer(async_mode="asgi"), app, redis_url=config.redis_url, channel=secrets.token_hex(4)
    )
    # both rows are younger than the sweep's age; the event is relayed regardless of age here
    assert await relay.relay_once(db, bus, older_than=0, cache=store) == 1
    assert int(await store.hub.client.get(generation)) > before
    assert await db.fetch_val("SELECT count(*) FROM cache_invalidations WHERE org_id = :org", {"org": org["id"]}) == 0
