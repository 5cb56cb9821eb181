"""One keyset page of a record list, and how a `q=` full-text filter pages.

A page without `q` is one index range scan in the sort order. With `q` neither plan
PostgreSQL picks between is safe: walking the sort index and filtering stops early
when matches are common, but reads the whole org when they are rare or gathered at
the far end of the order (`?q=weber` sorted by name: every contact before the W's);
the full-text index finds rare matches at once, but must fetch and sort every match.
So a `q=` page is two bounded steps: walk at most WALK_PAGES pages' worth of rows in
the sort order and keep the matches; if that yields a full page it is the answer
(the first matches in the order), else fetch all matches through the full-text index
(a materialized CTE, so the planner cannot turn it back into the walk) and sort them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from databases import Database

from crm.db import fetch_all_numbered

# A walk reads at most this many pages' worth of rows: a filter matching one row in
# ten or more fills a page within it.
WALK_PAGES = 10


@dataclass(frozen=True)
class PageQuery:
    """The page's statement; for `q=` the walk, and the full-text statement to fall back to."""

    sql: str
    values: dict[str, Any]
    fallback: str | None = None
    fallback_values: dict[str, Any] = field(default_factory=dict)

    def statements(self) -> list[tuple[str, dict[str, Any]]]:
        """Both statements, for a test to EXPLAIN."""
        walk = (self.sql, self.values)
        return [walk, (self.fallback, self.fallback_values)] if self.fallback else [walk]


def page_query(
    *,
    table: str,
    alias: str,
    columns: str,
    keys: Sequence[tuple[str, str]],
    descending: bool,
    where: Sequence[str],
    text_match: str | None,
    values: dict[str, Any],
) -> PageQuery:
    """`keys` are the sort (expression, output name) pairs before `{alias}.id`; `values`
    carries :limit (the rows to answer) and whatever `where` and `text_match` bind."""
    direction = "DESC" if descending else "ASC"
    key_columns = "".join(f", {expression} AS {name}" for expression, name in keys)
    order = ", ".join(f"{expression} {direction}" for expression, _ in keys) + f", {alias}.id {direction}"
    output_order = ", ".join(f"{name} {direction}" for _, name in keys) + f", id {direction}"
    conditions = " AND ".join(where)
    if text_match is None:
        return PageQuery(
            f"SELECT {columns}{key_columns} FROM {table} {alias} WHERE {conditions} ORDER BY {order} LIMIT :limit",
            values,
        )
    # The outer ORDER BY names the walk's own output columns, so it keeps the walk's
    # order instead of sorting: the walk stops as soon as :limit rows matched.
    walk = (
        f"SELECT {columns}{''.join(f', {alias}.{name}' for _, name in keys)}"
        f" FROM (SELECT {alias}.*{key_columns} FROM {table} {alias} WHERE {conditions}"
        f" ORDER BY {order} LIMIT :walk) {alias}"
        f" WHERE {text_match} ORDER BY {', '.join(f'{alias}.{name} {direction}' for _, name in keys)},"
        f" {alias}.id {direction} LIMIT :limit"
    )
    # The org-scoped key already confines the full-text match to the org; beside it the
    # org condition is written `org_id + 0` so that it is checked on each match, not
    # through a BitmapAnd with the org's whole btree range (every row id of the org).
    # The matches carry only their id and sort keys (every match is sorted, only a page is
    # answered); the page's rows are then read by primary key. Carrying every column through
    # the sort took a third of the statement at 4.5k matches.
    org_condition = f"{alias}.org_id = :org"
    if org_condition not in where:
        raise ValueError(f"a page query must be scoped by {org_condition!r}")
    scoped = [f"{alias}.org_id + 0 = :org" if c == org_condition else c for c in where]
    page_order = ", ".join(f"p.{name} {direction}" for _, name in keys) + f", p.id {direction}"
    fallback = (
        f"WITH matches AS MATERIALIZED (SELECT {alias}.id{key_columns} FROM {table} {alias}"
        f" WHERE {' AND '.join(scoped)} AND {text_match}),"
        f" page AS (SELECT * FROM matches ORDER BY {output_order} LIMIT :limit)"
        f" SELECT {columns}{''.join(f', p.{name}' for _, name in keys)}"
        f" FROM page p JOIN {table} {alias} ON {org_condition} AND {alias}.id = p.id"
        f" ORDER BY {page_order}"
    )
    return PageQuery(walk, {**values, "walk": WALK_PAGES * values["limit"]}, fallback, values)


async def fetch_page(db: Database, query: PageQuery) -> list[dict[str, Any]]:
    """The page's rows: the walk's when it found :limit of them, else the full-text statement's.

    Through asyncpg directly (crm.db.fetch_all_numbered): `databases` would compile each
    statement with SQLAlchemy and wrap each row in a Record whose mapping costs more per
    row than the query; a page of 100 deals spent a fifth of its time there."""
    rows = await fetch_all_numbered(db, query.sql, query.values)
    if query.fallback is not None and len(rows) < query.values["limit"]:
        rows = await fetch_all_numbered(db, query.fallback, query.fallback_values)
    return rows
