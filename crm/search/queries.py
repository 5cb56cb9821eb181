"""SQL for search across contacts, companies, deals and activity subjects (built-in FTS only).

Each kind contributes candidates from at most three index-backed branches:
the GIN full-text index (capped at CANDIDATES rows, so a one-letter query
cannot rank a whole org), and exact prefix matches on lower(name)/lower(email)
through the text_pattern_ops btree indexes, read in index order and capped at
the page size. Only candidates are ranked. Prefix ranges are written with the
pattern operators (~>=~, ~<~) so that even a generic prepared plan can use the
index; `starts_with` keeps the exact meaning.
"""

from __future__ import annotations

from databases import Database

from crm.db import Row

# Full-text candidates ranked per kind: enough for any specific query; for a
# very broad one (matching more rows) the best of the first CANDIDATES found is shown.
CANDIDATES = 200

TSQ = "to_tsquery('simple', :tsq)"


def _prefix_branch(table: str, alias: str, expression: str) -> str:
    return (
        f"(SELECT {alias}.id FROM {table} {alias} WHERE {alias}.org_id = :org"
        f" AND {expression} ~>=~ :lo AND {expression} ~<~ :hi AND starts_with({expression}, :lo)"
        f" ORDER BY {expression} USING ~<~ LIMIT :limit)"
    )


def _fts_matches(name: str, table: str, alias: str, document: str) -> str:
    # A materialized CTE is planned for all of its rows (a GIN bitmap scan, where a LIMIT
    # inside would tempt the planner into an unbounded scan betting on early hits), and
    # still runs lazily: the LIMIT of its reader stops the heap scan after CANDIDATES rows.
    return (
        f"{name} AS MATERIALIZED (SELECT {alias}.id FROM {table} {alias}"
        f" WHERE {alias}.org_id = :org AND {document} @@ {TSQ})"
    )


SEARCH_SQL = f"""
WITH {_fts_matches("contact_fts", "contacts", "c", "c.search")},
{_fts_matches("company_fts", "companies", "co", "co.search")},
{_fts_matches("deal_fts", "deals", "d", "d.search")},
{_fts_matches("activity_fts", "activities", "a", "to_tsvector('simple', a.subject)")},
contact_ids AS (
    (SELECT id FROM contact_fts LIMIT :cap)
    UNION {_prefix_branch("contacts", "c", "lower(c.email)")}
    UNION {_prefix_branch("contacts", "c", "lower(c.last_name)")}
), company_ids AS (
    (SELECT id FROM company_fts LIMIT :cap)
    UNION {_prefix_branch("companies", "co", "lower(co.name)")}
), deal_ids AS (
    (SELECT id FROM deal_fts LIMIT :cap)
    UNION {_prefix_branch("deals", "d", "lower(d.title)")}
), activity_ids AS (
    SELECT id FROM activity_fts LIMIT :cap
), hits AS (
    (SELECT 'contact' AS kind, c.id,
            coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''), c.email, '') AS title,
            concat_ws(' · ', nullif(c.email, ''), nullif(c.title, '')) AS subtitle,
            ts_rank(c.search, {TSQ})
              + CASE WHEN lower(c.email) = :lo OR lower(c.last_name) = :lo
                       OR lower(c.first_name || ' ' || c.last_name) = :lo THEN 1.0
                     WHEN starts_with(lower(c.email), :lo) OR starts_with(lower(c.last_name), :lo)
                       OR starts_with(lower(c.first_name || ' ' || c.last_name), :lo) THEN 0.5
                     ELSE 0 END AS rank
       FROM contact_ids i JOIN contacts c ON c.org_id = :org AND c.id = i.id
      ORDER BY rank DESC, c.id LIMIT :limit)
    UNION ALL
    (SELECT 'company', co.id, co.name, coalesce(co.domain, ''),
            ts_rank(co.search, {TSQ})
              + CASE WHEN lower(co.name) = :lo OR lower(co.domain) = :lo THEN 1.0
                     WHEN starts_with(lower(co.name), :lo) OR starts_with(lower(co.domain), :lo) THEN 0.5
                     ELSE 0 END
       FROM company_ids i JOIN companies co ON co.org_id = :org AND co.id = i.id
      ORDER BY 5 DESC, co.id LIMIT :limit)
    UNION ALL
    (SELECT 'deal', d.id, d.title,
            (SELECT s.name FROM pipeline_stages s WHERE s.org_id = d.org_id AND s.id = d.stage_id),
            ts_rank(d.search, {TSQ})
              + CASE WHEN lower(d.title) = :lo THEN 1.0 WHEN starts_with(lower(d.title), :lo) THEN 0.5 ELSE 0 END
       FROM deal_ids i JOIN deals d ON d.org_id = :org AND d.id = i.id
      ORDER BY 5 DESC, d.id LIMIT :limit)
    UNION ALL
    (SELECT 'activity', a.id, a.subject,
            concat_ws(' · ', a.type, to_char(a.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
            ts_rank(to_tsvector('simple', a.subject), {TSQ})
              + CASE WHEN lower(a.subject) = :lo THEN 1.0 WHEN starts_with(lower(a.subject), :lo) THEN 0.5 ELSE 0 END
       FROM activity_ids i JOIN activities a ON a.org_id = :org AND a.id = i.id
      ORDER BY 5 DESC, a.id LIMIT :limit)
)
SELECT kind, id, title, subtitle, rank FROM hits
 ORDER BY rank DESC, kind, id
 LIMIT :limit
"""


async def select_search_hits(db: Database, *, org_id: int, tsquery: str, prefix: str, limit: int) -> list[Row]:
    """Ranked hits of every kind in one org; `tsquery` must come from `service.build_tsquery`."""
    rows = await db.fetch_all(
        SEARCH_SQL,
        {
            "org": org_id,
            "tsq": tsquery,
            "lo": prefix,
            "hi": prefix + "\U0010ffff",
            "limit": limit,
            "cap": CANDIDATES,
        },
    )
    return [row._mapping for row in rows]
