"""The due-day rollup (migrations/0015_activity_due_days.sql) under concurrent writers.

Deleting a contact or company deletes its activities in one statement, over several days;
other writers move single activities between days. The statement triggers apply each
statement's changes in (org, day) order, so these transactions lock the rollup's rows in
one order and never deadlock on them; with row triggers (each row's day locked as the scan
met it) this workload deadlocked.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

DAYS = [datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=n) for n in range(6)]


async def rollup(sql: asyncpg.Connection, org_id: int) -> dict[Any, int]:
    rows = await sql.fetch(
        "SELECT day, open_count FROM activity_due_days WHERE org_id = $1 AND open_count <> 0", org_id
    )
    return {row["day"]: row["open_count"] for row in rows}


async def test_multi_day_deletes_and_moves_do_not_deadlock_and_keep_the_rollup_exact(
    database_url: str, sql: asyncpg.Connection, org: dict[str, Any]
) -> None:
    org_id = org["id"]
    rng = random.Random(5)

    async def add(conn: asyncpg.Connection, batch: int, count: int) -> None:
        # a batch's activities are spread over every day, in a shuffled order
        dues = [rng.choice(DAYS) for _ in range(count)]
        await conn.execute(
            "INSERT INTO activities (org_id, type, subject, due_at, done)"
            " SELECT $1, 'task', $2, due, false FROM unnest($3::timestamptz[]) AS due",
            org_id,
            f"batch {batch}",
            dues,
        )

    async def deleter(worker: int) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for round_ in range(15):
                batch = worker * 1000 + round_
                await add(conn, batch, 12)
                async with conn.transaction():
                    await conn.execute(
                        "DELETE FROM activities WHERE org_id = $1 AND subject = $2", org_id, f"batch {batch}"
                    )
        finally:
            await conn.close()

    async def mover(worker: int) -> None:
        conn = await asyncpg.connect(database_url)
        local = random.Random(worker)
        try:
            for _ in range(60):
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE activities SET due_at = $2, done = $3 WHERE id = (SELECT id FROM activities"
                        " WHERE org_id = $1 AND subject = 'moving' ORDER BY random() LIMIT 1)",
                        org_id,
                        local.choice(DAYS),
                        local.random() < 0.2,
                    )
        finally:
            await conn.close()

    await sql.executemany(
        "INSERT INTO activities (org_id, type, subject, due_at, done) VALUES ($1, 'task', 'moving', $2, false)",
        [(org_id, DAYS[n % len(DAYS)]) for n in range(30)],
    )
    await asyncio.gather(*(deleter(n) for n in range(3)), *(mover(n) for n in range(3)))

    kept = await rollup(sql, org_id)
    await sql.execute("SELECT recompute_activity_due_days($1)", org_id)
    assert await rollup(sql, org_id) == kept
    assert sum(kept.values()) == await sql.fetchval(
        "SELECT count(*) FROM activities WHERE org_id = $1 AND NOT done", org_id
    )


async def test_deleting_an_org_with_open_activities_cascades(sql: asyncpg.Connection, org: dict[str, Any]) -> None:
    await sql.execute(
        "INSERT INTO activities (org_id, type, subject, due_at, done) VALUES ($1, 'task', 'a', $2, false)",
        org["id"],
        DAYS[0],
    )
    assert await rollup(sql, org["id"]) == {DAYS[0].date(): 1}
    await sql.execute("DELETE FROM orgs WHERE id = $1", org["id"])
    assert await rollup(sql, org["id"]) == {}
