"""A random mix of writes straight in SQL (inserts, updates, deletes, stage moves),
and the brute-force recomputation of every dashboard number from the rows."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from databases import Database

# Timestamps around month and day edges, some written with a non-UTC offset on purpose.
EDGE_TIMES = [
    "2026-03-01 00:00:00+00",
    "2026-02-28 23:59:59.999999+00",
    "2026-03-01 03:00:00+05",  # 2026-02-28 22:00 UTC: February
    "2026-03-31 23:59:59+00",
    "2026-03-31 20:00:00-05",  # 2026-04-01 01:00 UTC: April
    "2026-04-01 00:00:00+00",
    "2026-03-15 09:59:59+00",
    "2026-03-15 10:00:00+00",
    "2026-03-15 00:00:00+00",
    "2026-03-16 00:00:00+00",
    "2026-03-14 23:59:59+00",
]
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def random_time(rng: random.Random) -> datetime:
    if rng.random() < 0.4:
        return datetime.fromisoformat(rng.choice(EDGE_TIMES))
    return NOW + timedelta(minutes=rng.randint(-90 * 24 * 60, 60 * 24 * 60))


def random_date(rng: random.Random) -> date | None:
    if rng.random() < 0.15:
        return None
    return (
        rng.choice([date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 28), date(2026, 4, 1)])
        if rng.random() < 0.3
        else (NOW.date() + timedelta(days=rng.randint(-60, 60)))
    )


class Workload:
    def __init__(self, db: Database, org_id: int, owner_id: int, seed: int) -> None:
        self.db = db
        self.org = org_id
        self.owner = owner_id
        self.rng = random.Random(seed)
        self.stages: list[Any] = []
        self.counter = 0

    async def load_stages(self) -> None:
        self.stages = await self.db.fetch_all(
            "SELECT id, kind FROM pipeline_stages WHERE org_id = :org ORDER BY position", {"org": self.org}
        )

    def closing_fields(self, kind: str) -> dict[str, Any]:
        at = random_time(self.rng)
        return {"won_at": at if kind == "won" else None, "lost_at": at if kind == "lost" else None}

    async def ids(self, table: str) -> list[int]:
        rows = await self.db.fetch_all(f"SELECT id FROM {table} WHERE org_id = :org", {"org": self.org})
        return [r["id"] for r in rows]

    async def insert_deal(self) -> None:
        stage = self.rng.choice(self.stages)
        self.counter += 1
        await self.db.execute(
            "INSERT INTO deals (org_id, title, amount, stage_id, position, owner_id, expected_close_date,"
            " won_at, lost_at) VALUES (:org, :title, :amount, :stage, :position, :owner, :close, :won_at, :lost_at)",
            {
                "org": self.org,
                "title": f"Deal {self.counter} renewal",
                "amount": self.rng.randrange(0, 1_000_000),
                "stage": stage["id"],
                "position": f"a{self.counter:08d}",
                "owner": self.owner,
                "close": random_date(self.rng),
                **self.closing_fields(stage["kind"]),
            },
        )

    async def move_deal(self, deal_id: int) -> None:
        stage = self.rng.choice(self.stages)
        self.counter += 1
        await self.db.execute(
            "UPDATE deals SET stage_id = :stage, position = :position, won_at = :won_at, lost_at = :lost_at,"
            " version = version + 1 WHERE org_id = :org AND id = :id",
            {
                "org": self.org,
                "id": deal_id,
                "stage": stage["id"],
                "position": f"a{self.counter:08d}",
                **self.closing_fields(stage["kind"]),
            },
        )

    async def edit_deal(self, deal_id: int) -> None:
        await self.db.execute(
            "UPDATE deals SET amount = :amount, expected_close_date = :close WHERE org_id = :org AND id = :id",
            {
                "org": self.org,
                "id": deal_id,
                "amount": self.rng.randrange(0, 1_000_000),
                "close": random_date(self.rng),
            },
        )

    async def insert_activity(self) -> None:
        due = random_time(self.rng) if self.rng.random() < 0.8 else None
        await self.db.execute(
            "INSERT INTO activities (org_id, type, subject, due_at, done)"
            " VALUES (:org, 'task', 'Call back', :due, :done)",
            {"org": self.org, "due": due, "done": self.rng.random() < 0.3},
        )

    async def step(self) -> None:
        roll = self.rng.random()
        deals = await self.ids("deals")
        if roll < 0.35 or not deals:
            await self.insert_deal()
        elif roll < 0.55:
            await self.move_deal(self.rng.choice(deals))
        elif roll < 0.65:
            await self.edit_deal(self.rng.choice(deals))
        elif roll < 0.72:
            await self.db.execute(
                "DELETE FROM deals WHERE org_id = :org AND id = :id", {"org": self.org, "id": self.rng.choice(deals)}
            )
        elif roll < 0.82:
            await self.insert_activity()
        elif roll < 0.88:
            activities = await self.ids("activities")
            if activities:
                await self.db.execute(
                    "UPDATE activities SET done = NOT done, due_at = :due WHERE org_id = :org AND id = :id",
                    {"org": self.org, "id": self.rng.choice(activities), "due": random_time(self.rng)},
                )
        elif roll < 0.94:
            self.counter += 1
            await self.db.execute(
                "INSERT INTO contacts (org_id, first_name, last_name) VALUES (:org, 'Ann', :last)",
                {"org": self.org, "last": f"Lee{self.counter}"},
            )
        elif roll < 0.97:
            self.counter += 1
            await self.db.execute(
                "INSERT INTO companies (org_id, name) VALUES (:org, :name)",
                {"org": self.org, "name": f"Co {self.counter}"},
            )
        else:
            contacts = await self.ids("contacts")
            if contacts:
                await self.db.execute(
                    "DELETE FROM contacts WHERE org_id = :org AND id = :id",
                    {"org": self.org, "id": self.rng.choice(contacts)},
                )


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def brute_force_stats(db: Database, org_id: int, now: datetime) -> dict[str, Any]:
    """Every dashboard number recomputed from the rows themselves."""
    start, end = month_bounds(now)
    day = datetime.combine(now.date(), time.min, tzinfo=UTC)
    params = {"org": org_id, "start": start, "end": end, "now": now, "day": day, "next_day": day + timedelta(days=1)}
    row = await db.fetch_one(
        """
        SELECT (SELECT count(*) FROM contacts WHERE org_id = :org) AS contacts,
               (SELECT count(*) FROM companies WHERE org_id = :org) AS companies,
               (SELECT count(*) FROM deals d JOIN pipeline_stages s ON s.id = d.stage_id
                 WHERE d.org_id = :org AND s.kind = 'open') AS open_deals,
               (SELECT coalesce(sum(d.amount), 0) FROM deals d JOIN pipeline_stages s ON s.id = d.stage_id
                 WHERE d.org_id = :org AND s.kind = 'open') AS open_value,
               (SELECT count(*) FROM deals WHERE org_id = :org AND won_at >= :start AND won_at < :end)
                   AS won_this_month,
               (SELECT coalesce(sum(amount), 0) FROM deals WHERE org_id = :org AND won_at >= :start AND won_at < :end)
                   AS won_value_this_month,
               (SELECT count(*) FROM deals WHERE org_id = :org AND lost_at >= :start AND lost_at < :end)
                   AS lost_this_month,
               (SELECT count(*) FROM deals WHERE org_id = :org AND won_at IS NULL AND lost_at IS NULL
                   AND expected_close_date >= CAST(:start AS date) AND expected_close_date < CAST(:end AS date))
                   AS closing_this_month,
               (SELECT count(*) FROM activities WHERE org_id = :org AND NOT done
                   AND due_at >= :day AND due_at < :next_day) AS activities_due_today,
               (SELECT count(*) FROM activities WHERE org_id = :org AND NOT done AND due_at < :now)
                   AS activities_overdue
        """,
        params,
    )
    assert row is not None
    stats = dict(row._mapping)
    stages = await db.fetch_all(
        "SELECT s.id AS stage_id, s.name, s.kind, count(d.id) AS count, coalesce(sum(d.amount), 0) AS value"
        " FROM pipeline_stages s LEFT JOIN deals d ON d.org_id = s.org_id AND d.stage_id = s.id"
        " WHERE s.org_id = :org GROUP BY s.id ORDER BY s.position, s.id",
        {"org": org_id},
    )
    stats["pipeline"] = [dict(s._mapping) for s in stages]
    won, lost = stats["won_this_month"], stats["lost_this_month"]
    stats["win_rate"] = round(won / (won + lost), 4) if won + lost else None
    return stats


async def brute_force_won_by_month(db: Database, org_id: int) -> dict[date, tuple[int, int]]:
    rows = await db.fetch_all(
        "SELECT date_trunc('month', won_at AT TIME ZONE 'UTC')::date AS month, count(*) AS n, sum(amount) AS v"
        " FROM deals WHERE org_id = :org AND won_at IS NOT NULL GROUP BY 1",
        {"org": org_id},
    )
    return {r["month"]: (r["n"], r["v"]) for r in rows}
