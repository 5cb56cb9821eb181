"""Dashboard numbers: read from rollups, shaped for the API.

Calendar boundaries are UTC: "this month" is the UTC calendar month of `now`,
"today" the UTC day. A deal counts as won (lost) in the month of its won_at
(lost_at); "closing this month" counts open deals (no won_at, no lost_at) whose
expected_close_date falls in this month; "overdue" is a not-done activity whose
due_at is before `now` (so an activity due earlier today is both due today and overdue).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from databases import Database

from crm.dashboard import queries
from crm.errors import APIError
from crm.tenancy.scope import OrgScope


def month_start(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def dashboard_stats(db: Database, *, org: OrgScope, now: datetime | None = None) -> dict[str, Any]:
    """The org's dashboard numbers as of `now` (default: the current time)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    day_start = datetime.combine(now.date(), time.min, tzinfo=UTC)
    headline = await queries.select_headline(
        db,
        org_id=org.id,
        month=month_start(now),
        day_start=day_start,
        now=now,
    )
    if headline is None:  # the scope guard found the org a moment ago; it was deleted since
        raise APIError(404, "org_not_found", "No such organisation.")
    stages = await queries.select_pipeline_totals(db, org_id=org.id)
    pipeline = [{k: stage[k] for k in ("stage_id", "name", "kind", "count", "value")} for stage in stages]
    won, lost = headline["won_this_month"], headline["lost_this_month"]
    return {
        "contacts": headline["contacts"],
        "companies": headline["companies"],
        "open_deals": sum(s["count"] for s in pipeline if s["kind"] == "open"),
        "open_value": sum(s["value"] for s in pipeline if s["kind"] == "open"),
        "pipeline": pipeline,
        "won_this_month": won,
        "won_value_this_month": headline["won_value_this_month"],
        "lost_this_month": lost,
        "lost_value_this_month": headline["lost_value_this_month"],
        "win_rate": round(won / (won + lost), 4) if won + lost else None,
        "activities_due_today": headline["activities_due_today"],
        "activities_overdue": headline["activities_overdue"],
        "closing_this_month": headline["closing_this_month"],
        "closing_value_this_month": headline["closing_value_this_month"],
        "currency": headline["currency"].strip(),
        "as_of": now,
        "month_start": month_start(now),
    }


async def won_over_time(db: Database, *, org: OrgScope, months: int, now: datetime | None = None) -> dict[str, Any]:
    """Deals won per UTC calendar month, the last `months` months (this one included), oldest first."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    last = month_start(now)
    first = add_months(last, -(months - 1))
    rows = await queries.select_won_by_month(db, org_id=org.id, first=first, last=last)
    by_month = {row["month"]: row for row in rows}
    items = []
    for offset in range(months):
        month = add_months(first, offset)
        row = by_month.get(month)
        items.append({"month": month, "count": row["count"] if row else 0, "value": row["value"] if row else 0})
    currency = await queries.select_org_currency(db, org_id=org.id)
    return {"items": items, "currency": currency or "USD", "as_of": now}
