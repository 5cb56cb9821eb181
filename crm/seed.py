"""Bulk seeding with COPY: demo data and benchmark volumes.

Row triggers (rollups, counters) are skipped during the COPY for speed and the
rollups are recomputed for the org afterwards, in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from crm.db import asyncpg_dsn

Progress = Callable[[str, int, int], None]

FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Khan",
    "Lopez",
    "Moreau",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
]
COMPANY_A = ["Blue", "North", "Bright", "Iron", "Green", "Silver", "Rapid", "Clear", "Summit", "Harbor"]
COMPANY_B = ["Labs", "Works", "Systems", "Logistics", "Foods", "Media", "Capital", "Health", "Energy", "Retail"]
TITLES = ["CEO", "CTO", "Head of Sales", "Buyer", "Procurement Lead", "Operations Manager", "Founder", "VP Marketing"]
DEAL_WORDS = ["Renewal", "Expansion", "Pilot", "Annual plan", "Upgrade", "Onboarding", "Enterprise licence"]
ACTIVITY_TYPES = ["call", "email", "meeting", "note", "task"]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def spread_positions(n: int) -> list[str]:
    """n increasing order keys, evenly spread, in the fractional-index format ('a' + 4 base-62 digits...)."""
    width = 4
    while 62**width <= n * 4:
        width += 1
    step = (62**width) // (n + 1)
    keys = []
    for i in range(1, n + 1):
        value, digits = i * step, []
        for _ in range(width):
            value, rem = divmod(value, 62)
            digits.append(BASE62[rem])
        keys.append("a0" + "".join(reversed(digits)).rstrip("0"))
    return keys


async def _copy(conn: asyncpg.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(table, records=rows, columns=columns)


async def seed_bulk(
    database_url: str,
    *,
    org_id: int,
    owner_id: int | None,
    contacts: int = 0,
    companies: int = 0,
    deals: int = 0,
    activities: int = 0,
    progress: Progress | None = None,
    batch: int = 20_000,
    seed: int = 1,
) -> None:
    """Insert realistic-looking records into one org, fast (COPY in batches)."""
    rng = random.Random(seed + org_id)
    report = progress or (lambda _kind, _done, _total: None)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")  # skip row triggers
            stages = await conn.fetch(
                "SELECT id, kind FROM pipeline_stages WHERE org_id = $1 ORDER BY position", org_id
            )
            now = datetime.now(UTC)

            company_ids: list[int] = []
            for start in range(0, companies, batch):
                n = min(batch, companies - start)
                rows: list[tuple[Any, ...]] = [
                    (
                        org_id,
                        f"{rng.choice(COMPANY_A)} {rng.choice(COMPANY_B)} {start + i}",
                        f"company{start + i}.example.com",
                        owner_id,
                    )
                    for i in range(n)
                ]
                await _copy(conn, "companies", ["org_id", "name", "domain", "owner_id"], rows)
                report("companies", start + n, companies)
            if companies:
                company_ids = [
                    r["id"]
                    for r in await conn.fetch(
                        "SELECT id FROM companies WHERE org_id = $1 ORDER BY id DESC LIMIT $2", org_id, companies
                    )
                ]

            for start in range(0, contacts, batch):
                n = min(batch, contacts - start)
                rows = []
                for i in range(n):
                    first, last = rng.choice(FIRST), rng.choice(LAST)
                    rows.append(
                        (
                            org_id,
                            first,
                            last,
                            f"{first.lower()}.{last.lower()}{start + i}@example.com",
                            rng.choice(TITLES),
                            rng.choice(company_ids) if company_ids else None,
                            owner_id,
                        )
                    )
                await _copy(
                    conn,
                    "contacts",
                    ["org_id", "first_name", "last_name", "email", "title", "company_id", "owner_id"],
                    rows,
                )
                report("contacts", start + n, contacts)
            contact_ids: list[int] = []
            if contacts and deals:
                contact_ids = [
                    r["id"]
                    for r in await conn.fetch(
                        "SELECT id FROM contacts WHERE org_id = $1 ORDER BY id DESC LIMIT 10000", org_id
                    )
                ]

            if deals and stages:
                per_stage = {s["id"]: 0 for s in stages}
                assignments = [rng.choice(stages) for _ in range(deals)]
                for stage in assignments:
                    per_stage[stage["id"]] += 1
                positions = {sid: iter(spread_positions(count)) for sid, count in per_stage.items() if count}
                for start in range(0, deals, batch):
                    n = min(batch, deals - start)
                    rows = []
                    for i in range(n):
                        stage = assignments[start + i]
                        created = now - timedelta(days=rng.randint(0, 365))
                        closed = created + timedelta(days=rng.randint(1, 60))
                        closed = min(closed, now)
                        rows.append(
                            (
                                org_id,
                                f"{rng.choice(DEAL_WORDS)} #{start + i}",
                                rng.randrange(1000, 5_000_000, 100),
                                "USD",
                                stage["id"],
                                next(positions[stage["id"]]),
                                owner_id,
                                rng.choice(contact_ids) if contact_ids else None,
                                rng.choice(company_ids) if company_ids else None,
                                date.today() + timedelta(days=rng.randint(-30, 90)),
                                rng.choice([10, 25, 50, 75, 90]),
                                closed if stage["kind"] == "won" else None,
                                closed if stage["kind"] == "lost" else None,
                                created,
                                created,
                            )
                        )
                    await _copy(
                        conn,
                        "deals",
                        [
                            "org_id",
                            "title",
                            "amount",
                            "currency",
                            "stage_id",
                            "position",
                            "owner_id",
                            "contact_id",
                            "company_id",
                            "expected_close_date",
                            "probability",
                            "won_at",
                            "lost_at",
                            "created_at",
                            "updated_at",
                        ],
                        rows,
                    )
                    report("deals", start + n, deals)

            deal_ids: list[int] = []
            if activities and deals:
                deal_ids = [
                    r["id"]
                    for r in await conn.fetch(
                        "SELECT id FROM deals WHERE org_id = $1 ORDER BY id DESC LIMIT 10000", org_id
                    )
                ]
            for start in range(0, activities, batch):
                n = min(batch, activities - start)
                rows = []
                for _ in range(n):
                    kind = rng.choice(ACTIVITY_TYPES)
                    due = now + timedelta(hours=rng.randint(-240, 240)) if kind in ("task", "call", "meeting") else None
                    done = due is not None and due < now and rng.random() < 0.6
                    rows.append(
                        (
                            org_id,
                            kind,
                            f"{kind.title()} about {rng.choice(DEAL_WORDS).lower()}",
                            "",
                            due,
                            done,
                            rng.choice(deal_ids) if deal_ids else None,
                            owner_id,
                        )
                    )
                await _copy(
                    conn,
                    "activities",
                    ["org_id", "type", "subject", "body", "due_at", "done", "deal_id", "owner_id"],
                    rows,
                )
                report("activities", start + n, activities)

            await recompute_rollups(conn, org_id)
    finally:
        await conn.close()


async def recompute_rollups(conn: asyncpg.Connection, org_id: int) -> None:
    """Rebuild the trigger-kept rollups of one org from the rows."""
    await conn.execute("DELETE FROM deal_stage_totals WHERE org_id = $1", org_id)
    await conn.execute(
        "INSERT INTO deal_stage_totals (org_id, stage_id, count, value)"
        " SELECT org_id, stage_id, count(*), coalesce(sum(amount), 0) FROM deals WHERE org_id = $1"
        " GROUP BY org_id, stage_id",
        org_id,
    )
    await conn.execute("SELECT recompute_deal_month_totals($1)", org_id)  # migrations/0008_dashboard.sql
    await conn.execute("SELECT recompute_activity_due_days($1)", org_id)  # migrations/0015_activity_due_days.sql
    await conn.execute(
        "UPDATE org_counters SET contacts = (SELECT count(*) FROM contacts WHERE org_id = $1),"
        " companies = (SELECT count(*) FROM companies WHERE org_id = $1) WHERE org_id = $1",
        org_id,
    )
