"""Live dashboards: a burst of writes ends in fresh stats on every socket, in few coalesced pushes."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.realtime.conftest import TIMEOUT, Instance, Person, add_member


def without_clock(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if k != "as_of"}


async def test_burst_of_deal_writes_pushes_coalesced_fresh_stats(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    await add_member(alice, org, bob)
    base = f"/orgs/{org['slug']}"
    watcher = await bob.connect(b)
    await watcher.join(org["slug"])

    writes = 30
    await asyncio.gather(
        *(
            alice.request("POST", f"{base}/deals", json={"title": f"Deal {n}", "amount": 500}, via=(a, b)[n % 2])
            for n in range(writes)
        )
    )
    status, stats = await bob.request("GET", f"{base}/dashboard/stats", via=a)
    assert status == 200 and stats["open_deals"] == writes

    pushes: list[dict[str, Any]] = []

    async def until_fresh() -> None:
        while True:
            event = await watcher.events.get()
            if event["type"] == "dashboard.updated":
                pushes.append(event)
                if without_clock(event["data"]) == without_clock(stats):
                    return

    await asyncio.wait_for(until_fresh(), TIMEOUT)
    assert pushes[-1]["data"]["open_value"] == writes * 500
    assert pushes[-1]["actor"] is None and isinstance(pushes[-1]["seq"], int)
    assert len(pushes) < writes // 3
