"""SQL for activities: records and keyset lists (each sort has an org_id-first index)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databases import Database

from crm.db import Row
from crm.listpages import fetch_page, page_query

ACTIVITY_FIELDS = (
    "id",
    "type",
    "subject",
    "body",
    "due_at",
    "done",
    "done_at",
    "deal_id",
    "contact_id",
    "company_id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
)
ACTIVITY_COLUMNS = ", ".join(f"a.{name}" for name in ACTIVITY_FIELDS)
NO_DUE_DATE = "TIMESTAMPTZ '9999-01-01 00:00:00+00'"

# sort name -> (SQL expression, descending?); undated activities sort after dated ones
SORTS: dict[str, tuple[str, bool]] = {
    "due_at": (f"COALESCE(a.due_at, {NO_DUE_DATE})", False),
    "-due_at": (f"COALESCE(a.due_at, {NO_DUE_DATE})", True),
    "created_at": ("a.created_at", False),
    "-created_at": ("a.created_at", True),
}


@dataclass(frozen=True)
class ActivityFilters:
    deal_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    owner_id: int | None = None
    done: bool | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    type: str | None = None
    tsquery: str | None = None  # already built from words by the route (never raw input)


TEXT_MATCH = "a.search_key @@ tenant_tsquery(:org, to_tsquery('simple', :f_tsquery))"


def _filter_conditions(filters: ActivityFilters, params: dict[str, Any]) -> list[str]:
    """The conditions of every filter but `q` (see TEXT_MATCH), binding their values into `params`."""
    clauses = []
    for column in ("deal_id", "contact_id", "company_id", "owner_id", "done", "type"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(f"a.{column} = :f_{column}")
            params[f"f_{column}"] = value
    if filters.due_before is not None:
        clauses.append("a.due_at < :f_due_before")
        params["f_due_before"] = filters.due_before
    if filters.due_after is not None:
        clauses.append("a.due_at >= :f_due_after")
        params["f_due_after"] = filters.due_after
    if filters.tsquery is not None:
        params["f_tsquery"] = filters.tsquery
    return clauses


async def select_activity(db: Database, *, org_id: int, activity_id: int, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await db.fetch_one(
        f"SELECT {ACTIVITY_COLUMNS} FROM activities a WHERE a.org_id = :org AND a.id = :id{lock}",
        {"org": org_id, "id": activity_id},
    )
    return row._mapping if row else None


def _done_at_sql(values: dict[str, Any]) -> str:
    """done_at follows done: set when it becomes true, cleared when false."""
    if "done" not in values:
        return ""
    return "CASE WHEN :done THEN COALESCE(a.done_at, now()) ELSE NULL END"


async def insert_activity(db: Database, *, org_id: int, values: dict[str, Any]) -> Row:
    columns = ", ".join(values)
    placeholders = ", ".join(f":{name}" for name in values)
    row = await db.fetch_one(
        f"INSERT INTO activities AS a (org_id, {columns}, done_at)"
        f" VALUES (:org, {placeholders}, CASE WHEN :done THEN now() ELSE NULL END)"
        f" RETURNING {ACTIVITY_COLUMNS}",
        {"org": org_id, **values},
    )
    assert row is not None
    return row._mapping


async def update_activity(db: Database, *, org_id: int, activity_id: int, changes: dict[str, Any]) -> Row:
    sets = "".join(f"{column} = :{column}, " for column in changes)
    if "done" in changes:
        sets += f"done_at = {_done_at_sql(changes)}, "
    row = await db.fetch_one(
        f"UPDATE activities a SET {sets}updated_at = now(), version = a.version + 1"
        f" WHERE a.org_id = :org AND a.id = :id RETURNING {ACTIVITY_COLUMNS}",
        {"org": org_id, "id": activity_id, **changes},
    )
    assert row is not None
    return row._mapping


async def delete_activity(db: Database, *, org_id: int, activity_id: int) -> None:
    await db.execute("DELETE FROM activities WHERE org_id = :org AND id = :id", {"org": org_id, "id": activity_id})


async def select_activities_page(
    db: Database,
    *,
    org_id: int,
    filters: ActivityFilters,
    sort: str,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """One keyset page (limit + 1 rows, to tell if there is more); each row carries its `sort_key`."""
    expression, descending = SORTS[sort]
    params: dict[str, Any] = {"org": org_id, "limit": limit + 1}
    where = ["a.org_id = :org", *_filter_conditions(filters, params)]
    if after is not None:
        where.append(f"({expression}, a.id) {'<' if descending else '>'} (:after_key, :after_id)")
        params["after_key"], params["after_id"] = after
    query = page_query(
        table="activities",
        alias="a",
        columns=ACTIVITY_COLUMNS,
        keys=[(expression, "sort_key")],
        descending=descending,
        where=where,
        text_match=TEXT_MATCH if filters.tsquery is not None else None,
        values=params,
    )
    return await fetch_page(db, query)
