"""SQL for the dashboard: rollup tables, never a scan of an org's deals or activities.

Every statement filters by org_id and reads trigger-kept rollups (org_counters,
deal_stage_totals, deal_month_totals, activity_due_days), plus the partial index
activities_org_due_idx for today's activities due before now, so its cost does not grow
with the number of deals or of activities (only with the days that ever had one due).
Statements go to asyncpg directly (crm.db.fetch_all_numbered): a miss is three of them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from databases import Database

from crm.db import Row, fetch_all_numbered

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
       coalesce((SELECT dd.open_count FROM activity_due_days dd WHERE dd.org_id = :org AND dd.day = :today), 0)
           AS activities_due_today,
       (SELECT coalesce(sum(dd.open_count), 0)::bigint FROM activity_due_days dd
         WHERE dd.org_id = :org AND dd.day < :today)
       + (SELECT count(*) FROM activities a
           WHERE a.org_id = :org AND NOT a.done AND a.due_at >= :day_start AND a.due_at < :now)
           AS activities_overdue
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


async def select_headline(db: Database, *, org_id: int, month: date, day_start: datetime, now: datetime) -> Row | None:
    """`day_start` is the UTC midnight that starts `now`'s day."""
    rows = await fetch_all_numbered(
        db,
        SELECT_HEADLINE,
        {"org": org_id, "month": month, "today": day_start.date(), "day_start": day_start, "now": now},
    )
    return rows[0] if rows else None


async def select_pipeline_totals(db: Database, *, org_id: int) -> list[dict[str, Any]]:
    return await fetch_all_numbered(db, SELECT_PIPELINE, {"org": org_id})


async def select_won_by_month(db: Database, *, org_id: int, first: date, last: date) -> list[dict[str, Any]]:
    return await fetch_all_numbered(db, SELECT_WON_BY_MONTH, {"org": org_id, "first": first, "last": last})


async def select_org_currency(db: Database, *, org_id: int) -> str | None:
    value = await db.fetch_val("SELECT currency FROM orgs WHERE id = :org", {"org": org_id})
    return str(value).strip() if value is not None else None
