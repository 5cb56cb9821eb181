"""SQL for the dashboard: rollup tables and partial indexes only, never a scan of an org's deals.

Every statement filters by org_id and reads either a trigger-kept rollup
(org_counters, deal_stage_totals, deal_month_totals) or a partial index
(activities_org_due_idx), so its cost does not grow with the number of deals.
"""

from __future__ import annotations

from datetime import date, datetime

from databases import Database

from crm.db import Row

SELECT_HEADLINE = """
SELECT o.currency,
       c.contacts,
       c.companies,
       coalesce(won.count, 0) AS won_this_month,
       coalesce(won.value, 0) AS won_value_this_month,
       coalesce(lost.count, 0) AS lost_this_month,
       coalesce(lost.value, 0) AS lost_value_this_month,
       coalesce(closing.count, 0) AS closing_this_month,
       coalesce(closing.value, 0) AS closing_value_this_month,
       (SELECT count(*) FROM activities a
         WHERE a.org_id = :org AND NOT a.done AND a.due_at >= :day_start AND a.due_at < :day_end)
           AS activities_due_today,
       (SELECT count(*) FROM activities a
         WHERE a.org_id = :org AND NOT a.done AND a.due_at < :now) AS activities_overdue
  FROM orgs o
  JOIN org_counters c ON c.org_id = o.id
  LEFT JOIN deal_month_totals won ON won.org_id = o.id AND won.kind = 'won' AND won.month = :month
  LEFT JOIN deal_month_totals lost ON lost.org_id = o.id AND lost.kind = 'lost' AND lost.month = :month
  LEFT JOIN deal_month_totals closing ON closing.org_id = o.id AND closing.kind = 'closing' AND closing.month = :month
 WHERE o.id = :org
"""

SELECT_PIPELINE = """
SELECT s.id AS stage_id, s.name, s.kind, s.position,
       coalesce(t.count, 0) AS count, coalesce(t.value, 0) AS value
  FROM pipeline_stages s
  LEFT JOIN deal_stage_totals t ON t.org_id = s.org_id AND t.stage_id = s.id
 WHERE s.org_id = :org
 ORDER BY s.position, s.id
"""

SELECT_WON_BY_MONTH = """
SELECT m.month, m.count, m.value
  FROM deal_month_totals m
 WHERE m.org_id = :org AND m.kind = 'won' AND m.month >= :first AND m.month <= :last
 ORDER BY m.month
"""


async def select_headline(
    db: Database, *, org_id: int, month: date, day_start: datetime, day_end: datetime, now: datetime
) -> Row | None:
    row = await db.fetch_one(
        SELECT_HEADLINE,
        {"org": org_id, "month": month, "day_start": day_start, "day_end": day_end, "now": now},
    )
    return row._mapping if row else None


async def select_pipeline_totals(db: Database, *, org_id: int) -> list[Row]:
    rows = await db.fetch_all(SELECT_PIPELINE, {"org": org_id})
    return [row._mapping for row in rows]


async def select_won_by_month(db: Database, *, org_id: int, first: date, last: date) -> list[Row]:
    rows = await db.fetch_all(SELECT_WON_BY_MONTH, {"org": org_id, "first": first, "last": last})
    return [row._mapping for row in rows]


async def select_org_currency(db: Database, *, org_id: int) -> str | None:
    value = await db.fetch_val("SELECT currency FROM orgs WHERE id = :org", {"org": org_id})
    return str(value).strip() if value is not None else None
