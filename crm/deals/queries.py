"""SQL for deals: records, order keys within a stage column, keyset lists and the board."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from databases import Database

from crm.db import Row
from crm.listpages import PageQuery, fetch_page, page_query

DEAL_FIELDS = (
    "id",
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
    "version",
    "created_at",
    "updated_at",
)
DEAL_COLUMNS = ", ".join(f"d.{name}" for name in DEAL_FIELDS)

# sort name -> (SQL expression, descending?, cursor value kind); each has an (org_id, expr, id) index
SORTS: dict[str, tuple[str, bool, str]] = {
    "updated_at": ("d.updated_at", False, "timestamp"),
    "-updated_at": ("d.updated_at", True, "timestamp"),
    "created_at": ("d.created_at", False, "timestamp"),
    "-created_at": ("d.created_at", True, "timestamp"),
    "amount": ("d.amount", False, "int"),
    "-amount": ("d.amount", True, "int"),
    "expected_close_date": ("COALESCE(d.expected_close_date, DATE '9999-01-01')", False, "date"),
    "title": ("lower(d.title)", False, "text"),
}
STATUS_SQL = {
    "open": "d.won_at IS NULL AND d.lost_at IS NULL",
    "won": "d.won_at IS NOT NULL",
    "lost": "d.lost_at IS NOT NULL",
}


class _Now:
    """A column value meaning the transaction's now() (so won_at matches updated_at)."""

    def __repr__(self) -> str:
        return "NOW"


NOW: Any = _Now()


def _value_sql(name: str, value: Any) -> str:
    return "now()" if value is NOW else f":{name}"


def _bound(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not NOW}


@dataclass(frozen=True)
class DealFilters:
    stage_id: int | None = None
    owner_id: int | None = None
    company_id: int | None = None
    contact_id: int | None = None
    updated_since: datetime | None = None
    status: str | None = None
    tsquery: str | None = None  # already built from words by the service (never raw input)


TEXT_MATCH = "d.search_key @@ tenant_tsquery(:org, to_tsquery('simple', :f_tsquery))"


def _filter_conditions(filters: DealFilters, params: dict[str, Any]) -> list[str]:
    """The conditions of every filter but `q` (see TEXT_MATCH), binding their values into `params`."""
    clauses = []
    for column, value in (
        ("stage_id", filters.stage_id),
        ("owner_id", filters.owner_id),
        ("company_id", filters.company_id),
        ("contact_id", filters.contact_id),
    ):
        if value is not None:
            clauses.append(f"d.{column} = :f_{column}")
            params[f"f_{column}"] = value
    if filters.updated_since is not None:
        clauses.append("d.updated_at >= :f_since")
        params["f_since"] = filters.updated_since
    if filters.status is not None:
        clauses.append(STATUS_SQL[filters.status])
    if filters.tsquery is not None:
        params["f_tsquery"] = filters.tsquery
    return clauses


def _filter_sql(filters: DealFilters, params: dict[str, Any]) -> str:
    clauses = _filter_conditions(filters, params)
    if filters.tsquery is not None:
        clauses.append(TEXT_MATCH)
    return "".join(f" AND {clause}" for clause in clauses)


async def select_deal(db: Database, *, org_id: int, deal_id: int, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await db.fetch_one(
        f"SELECT {DEAL_COLUMNS} FROM deals d WHERE d.org_id = :org AND d.id = :id{lock}",
        {"org": org_id, "id": deal_id},
    )
    return row._mapping if row else None


async def select_org_currency(db: Database, *, org_id: int) -> str:
    return str(await db.fetch_val("SELECT currency FROM orgs WHERE id = :org", {"org": org_id}))


async def select_last_position(db: Database, *, org_id: int, stage_id: int, exclude_id: int | None) -> str | None:
    value = await db.fetch_val(
        "SELECT d.position FROM deals d WHERE d.org_id = :org AND d.stage_id = :stage AND d.id <> :exclude"
        " ORDER BY d.position DESC LIMIT 1",
        {"org": org_id, "stage": stage_id, "exclude": exclude_id or 0},
    )
    return str(value) if value is not None else None


async def select_position_below(
    db: Database, *, org_id: int, stage_id: int, position: str, exclude_id: int
) -> str | None:
    """The order key of the next card under `position` in the column (not counting the moving card)."""
    value = await db.fetch_val(
        "SELECT d.position FROM deals d WHERE d.org_id = :org AND d.stage_id = :stage AND d.position > :position"
        " AND d.id <> :exclude ORDER BY d.position LIMIT 1",
        {"org": org_id, "stage": stage_id, "position": position, "exclude": exclude_id},
    )
    return str(value) if value is not None else None


async def select_position_above(
    db: Database, *, org_id: int, stage_id: int, position: str, exclude_id: int
) -> str | None:
    """The order key of the card right over `position` in the column (not counting the moving card)."""
    value = await db.fetch_val(
        "SELECT d.position FROM deals d WHERE d.org_id = :org AND d.stage_id = :stage AND d.position < :position"
        " AND d.id <> :exclude ORDER BY d.position DESC LIMIT 1",
        {"org": org_id, "stage": stage_id, "position": position, "exclude": exclude_id},
    )
    return str(value) if value is not None else None


async def insert_deal(db: Database, *, org_id: int, values: dict[str, Any]) -> Row:
    columns = ", ".join(values)
    placeholders = ", ".join(_value_sql(name, value) for name, value in values.items())
    row = await db.fetch_one(
        f"INSERT INTO deals AS d (org_id, {columns}) VALUES (:org, {placeholders}) RETURNING {DEAL_COLUMNS}",
        {"org": org_id, **_bound(values)},
    )
    assert row is not None
    return row._mapping


async def update_deal(db: Database, *, org_id: int, deal_id: int, changes: dict[str, Any]) -> Row:
    """Write the changed columns of one deal (one row), bumping version and updated_at."""
    sets = "".join(f"{column} = {_value_sql(column, value)}, " for column, value in changes.items())
    row = await db.fetch_one(
        f"UPDATE deals d SET {sets}updated_at = now(), version = d.version + 1"
        f" WHERE d.org_id = :org AND d.id = :id RETURNING {DEAL_COLUMNS}",
        {"org": org_id, "id": deal_id, **_bound(changes)},
    )
    assert row is not None
    return row._mapping


async def delete_deal(db: Database, *, org_id: int, deal_id: int) -> None:
    await db.execute("DELETE FROM deals WHERE org_id = :org AND id = :id", {"org": org_id, "id": deal_id})


async def select_deals_page(
    db: Database, *, org_id: int, filters: DealFilters, sort: str, after: tuple[Any, int] | None, limit: int
) -> list[dict[str, Any]]:
    """One keyset page (limit + 1 rows, to tell if there is more); each row carries its `sort_key`."""
    return await fetch_page(db, deals_page_query(org_id=org_id, filters=filters, sort=sort, after=after, limit=limit))


def deals_page_query(
    *, org_id: int, filters: DealFilters, sort: str, after: tuple[Any, int] | None, limit: int
) -> PageQuery:
    """The list page's statements: one for a plain page, the walk and its fallback for `q=`."""
    expression, descending, _ = SORTS[sort]
    params: dict[str, Any] = {"org": org_id, "limit": limit + 1}
    where = ["d.org_id = :org", *_filter_conditions(filters, params)]
    if after is not None:
        where.append(f"({expression}, d.id) {'<' if descending else '>'} (:after_key, :after_id)")
        params["after_key"], params["after_id"] = after
    return page_query(
        table="deals",
        alias="d",
        columns=DEAL_COLUMNS,
        keys=[(expression, "sort_key")],
        descending=descending,
        where=where,
        text_match=TEXT_MATCH if filters.tsquery is not None else None,
        values=params,
    )


async def select_board_deals(
    db: Database, *, org_id: int, filters: DealFilters, per_stage: int
) -> list[dict[str, Any]]:
    """The first `per_stage` + 1 deals of every stage column, in order (one index range scan per stage)."""
    params: dict[str, Any] = {"org": org_id, "cap": per_stage + 1}
    where = _filter_sql(filters, params)
    rows = await db.fetch_all(
        "SELECT d.* FROM pipeline_stages s CROSS JOIN LATERAL ("
        f" SELECT {DEAL_COLUMNS} FROM deals d WHERE d.org_id = :org AND d.stage_id = s.id{where}"
        " ORDER BY d.position LIMIT :cap) d"
        " WHERE s.org_id = :org ORDER BY s.position, s.id, d.position",
        params,
    )
    return [dict(row._mapping) for row in rows]
