"""Stats through the API after writes through the API: equal to a brute-force recomputation.

The writes go through the real services (deals, activities, contacts, companies),
so this also proves that every write invalidates the cached stats.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from databases import Database
from quart import Quart

from tests.dashboard.workload import brute_force_stats
from tests.helpers import User

KEYS = [
    "contacts",
    "companies",
    "open_deals",
    "open_value",
    "won_this_month",
    "won_value_this_month",
    "lost_this_month",
    "closing_this_month",
    "activities_due_today",
    "activities_overdue",
    "win_rate",
    "pipeline",
]


class ApiWorkload:
    def __init__(self, user: User, org: dict[str, Any], stages: list[dict[str, Any]], seed: int) -> None:
        self.user = user
        self.base = f"/api/v1/orgs/{org['slug']}"
        self.stages = stages
        self.rng = random.Random(seed)
        self.deals: dict[int, int] = {}  # id -> version
        self.activities: dict[int, int] = {}

    def when(self) -> str:
        return (datetime.now(UTC) + timedelta(hours=self.rng.randint(-24 * 40, 24 * 40))).isoformat()

    def close_date(self) -> str:
        return (datetime.now(UTC).date() + timedelta(days=self.rng.randint(-45, 45))).isoformat()

    async def ok(self, response: Any, *statuses: int) -> Any:
        assert response.status in statuses, response.json
        return response.json

    async def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.3 or not self.deals:
            deal = await self.ok(
                await self.user.post(
                    f"{self.base}/deals",
                    json={
                        "title": f"Deal {self.rng.randrange(10**6)}",
                        "amount": self.rng.randrange(0, 100_000),
                        "stage_id": self.rng.choice(self.stages)["id"],
                        "expected_close_date": self.close_date(),
                    },
                ),
                201,
            )
            self.deals[deal["id"]] = deal["version"]
        elif roll < 0.5:
            deal_id = self.rng.choice(list(self.deals))
            moved = await self.ok(
                await self.user.post(
                    f"{self.base}/deals/{deal_id}/move",
                    json={"stage_id": self.rng.choice(self.stages)["id"], "version": self.deals[deal_id]},
                ),
                200,
            )
            self.deals[deal_id] = moved["version"]
        elif roll < 0.6:
            deal_id = self.rng.choice(list(self.deals))
            edited = await self.ok(
                await self.user.patch(
                    f"{self.base}/deals/{deal_id}",
                    json={
                        "amount": self.rng.randrange(0, 100_000),
                        "expected_close_date": self.close_date(),
                        "version": self.deals[deal_id],
                    },
                ),
                200,
            )
            self.deals[deal_id] = edited["version"]
        elif roll < 0.67:
            deal_id = self.rng.choice(list(self.deals))
            version = self.deals.pop(deal_id)
            await self.ok(
                await self.user.delete(f"{self.base}/deals/{deal_id}", headers={"If-Match": f'"{version}"'}), 204
            )
        elif roll < 0.8:
            activity = await self.ok(
                await self.user.post(
                    f"{self.base}/activities",
                    json={
                        "type": "task",
                        "subject": "Follow up",
                        "due_at": self.when(),
                        "done": self.rng.random() < 0.3,
                    },
                ),
                201,
            )
            self.activities[activity["id"]] = activity["version"]
        elif roll < 0.87 and self.activities:
            activity_id = self.rng.choice(list(self.activities))
            changed = await self.ok(
                await self.user.patch(
                    f"{self.base}/activities/{activity_id}",
                    json={"done": self.rng.random() < 0.5, "version": self.activities[activity_id]},
                ),
                200,
            )
            self.activities[activity_id] = changed["version"]
        elif roll < 0.94:
            await self.ok(
                await self.user.post(f"{self.base}/contacts", json={"first_name": "Ann", "last_name": "Lee"}), 201
            )
        else:
            await self.ok(
                await self.user.post(f"{self.base}/companies", json={"name": f"Co {self.rng.randrange(10**6)}"}), 201
            )


async def test_stats_after_api_writes_equal_brute_force(app: Quart, alice: User, org: dict[str, Any]) -> None:
    db: Database = app.extensions["db"]
    stages = (await alice.get(f"/api/v1/orgs/{org['slug']}/stages")).json["items"]
    work = ApiWorkload(alice, org, stages, seed=11)
    for round_ in range(5):
        for _ in range(40):
            await work.step()
        response = await alice.get(f"/api/v1/orgs/{org['slug']}/dashboard/stats")
        assert response.status == 200, response.json
        got = response.json
        expected = await brute_force_stats(db, org["id"], datetime.fromisoformat(got["as_of"]))
        assert {k: got[k] for k in KEYS} == {k: expected[k] for k in KEYS}, f"round {round_}"
    assert got["won_this_month"] and got["open_deals"] and got["activities_overdue"] and got["closing_this_month"]
