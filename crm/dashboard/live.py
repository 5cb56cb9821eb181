"""Live dashboards: after writes that change the numbers, push `dashboard.updated` to the org.

Coalesced across instances to about one push per second per org: the first
write of a quiet org takes a Redis lead key (`SET NX PX 1000`) and pushes at
once; writes while the key is held only mark the org dirty; one second later
the leader pushes once more if anything came in meanwhile (the trailing update),
so the last push always reflects the last write. The push is an ordinary outbox
event (it gets a seq, replays and survives Redis outages like any other).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quart import Quart

from crm.tenancy import queries as tenancy_queries
from crm.tenancy.scope import OrgScope
from crm.uow import write_transaction

log = logging.getLogger(__name__)

STATS_EVENT_PREFIXES = ("deal.", "contact.", "company.", "activity.")
COALESCE_MS = 1000
_tasks: set[asyncio.Task[None]] = set()


def lead_key(org_id: int) -> str:
    return f"tc:{org_id}:dash:lead"


def dirty_key(org_id: int) -> str:
    return f"tc:{org_id}:dash:dirty"


def note_events(app: Quart, events: list[dict[str, Any]]) -> None:
    """Called after events are published: schedule a push for each org whose stats may have changed."""
    orgs = {int(e["org"]) for e in events if str(e["type"]).startswith(STATS_EVENT_PREFIXES)}
    for org_id in orgs:
        task = asyncio.create_task(coalesced_push(app, org_id))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


async def coalesced_push(app: Quart, org_id: int) -> None:
    hub = app.extensions["redis"]
    try:
        led = await hub.guarded(lambda c: c.set(lead_key(org_id), b"1", nx=True, px=COALESCE_MS), "down")
        if led is None:  # someone pushed within the last second: leave it to their trailing update
            await hub.guarded(lambda c: c.set(dirty_key(org_id), b"1", px=COALESCE_MS * 5), None)
            return
        await push_stats(app, org_id)
        if led == "down":  # without Redis there is no coalescing; at least the numbers stay fresh
            return
        while True:
            # wake just before the lead expires, so a write now cannot start a second leader
            await asyncio.sleep(COALESCE_MS * 0.9 / 1000)
            if not await hub.guarded(lambda c: c.getdel(dirty_key(org_id)), None):
                return
            await hub.guarded(lambda c: c.set(lead_key(org_id), b"1", px=COALESCE_MS), None)
            await push_stats(app, org_id)
    except Exception:
        log.exception("pushing dashboard stats for org %s failed", org_id)


async def push_stats(app: Quart, org_id: int) -> None:
    """Compute the org's stats and publish them as `dashboard.updated`."""
    from crm.dashboard.service import dashboard_stats

    async with app.app_context():
        db = app.extensions["db"]
        org = await tenancy_queries.select_org(db, org_id=org_id)
        if org is None:
            return
        scope = OrgScope(id=org_id, slug=org["slug"], name=org["name"], role="viewer", user_id=0)
        stats = await dashboard_stats(db, org=scope)
        async with write_transaction(db) as tx:
            await tx.event(org_id, "dashboard.updated", actor=None, data=stats)
