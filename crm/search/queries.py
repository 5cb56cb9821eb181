"""SQL for search across contacts, companies, deals and activity subjects (built-in FTS only).

Each kind takes candidates in two steps, both bounded:

1. prefix matches of the whole query on the kind's names (lower(name), lower(email),
   a contact's full name, ...) through the text_pattern_ops btree indexes, read in index
   order and capped at the page size;
2. only when step 1 found fewer than a page: full-text matches through the kind's
   org-scoped `search_key` GIN index, capped at CANDIDATES.

Only candidates are ranked. A rank is a bonus for an exact (1.0) or prefix (0.5) name
match plus half of ts_rank's rank/(rank+1) form, which stays below 0.5: every prefix
candidate outranks every match found by words alone, so when step 1 fills a page the
full-text step cannot change that kind's page and is skipped (a one-time filter: the
GIN index is never read). Prefix ranges are written with the pattern operators (~>=~,
~<~) so that even a generic prepared plan can use the index; `starts_with` keeps the
exact meaning.
"""

from __future__ import annotations

from typing import Any

from databases import Database

from crm.db import numbered

# Full-text candidates ranked per kind: enough for any specific query; for a
# very broad one (matching more rows) the best of the first CANDIDATES found is shown.
CANDIDATES = 200

TSQ = "to_tsquery('simple', :tsq)"
# The same query with the org's prefix on every lexeme, for the search_key indexes (0011).
KEY_TSQ = f"tenant_tsquery(:org, {TSQ})"


def _prefix_branch(table: str, alias: str, expression: str) -> str:
    return (
        f"(SELECT {alias}.id FROM {table} {alias} WHERE {alias}.org_id = :org"
        f" AND {expression} ~>=~ :lo AND {expression} ~<~ :hi AND starts_with({expression}, :lo)"
        f" ORDER BY {expression} USING ~<~ LIMIT :limit)"
    )


def _candidates(kind: str, table: str, alias: str, prefixes: list[str]) -> str:
    """CTEs `{kind}_prefix`, `{kind}_fts` and `{kind}_ids`: at most a page per prefix, plus CANDIDATES."""
    branches = " UNION ".join(_prefix_branch(table, alias, expression) for expression in prefixes)
    # The full-text CTE is materialized so that it is planned for all of its rows (a GIN
    # bitmap scan, where a LIMIT inside would tempt the planner into an unbounded scan
    # betting on early hits); it still runs lazily, so its reader's LIMIT stops the heap
    # scan after CANDIDATES rows. Its count condition is a one-time filter: a page of
    # prefix candidates means the GIN index is not read at all. The org-scoped key is its
    # org condition; `org_id + 0` checks each match again without inviting a BitmapAnd
    # with an org_id btree, which would read every row id of the org.
    return (
        f"{kind}_prefix AS MATERIALIZED ({branches}),"
        f" {kind}_fts AS MATERIALIZED (SELECT {alias}.id FROM {table} {alias}"
        f" WHERE {alias}.search_key @@ {KEY_TSQ} AND {alias}.org_id + 0 = :org"
        f" AND (SELECT count(*) FROM {kind}_prefix) < :limit),"
        f" {kind}_ids AS ((SELECT id FROM {kind}_fts LIMIT :cap) UNION SELECT id FROM {kind}_prefix)"
    )


def _rank(document: str, bonus: str) -> str:
    return f"ts_rank({document}, {TSQ}, 32) / 2 + {bonus}"


def _bonus(expressions: list[str]) -> str:
    exact = " OR ".join(f"{e} = :lo" for e in expressions)
    prefix = " OR ".join(f"starts_with({e}, :lo)" for e in expressions)
    return f"CASE WHEN {exact} THEN 1.0 WHEN {prefix} THEN 0.5 ELSE 0 END"


# The name-like expressions of each kind: each has a prefix branch (and a text_pattern_ops index)
# and the same expressions give the bonus, so that no word-only match can hold a prefix bonus.
CONTACT_NAMES = ["lower(c.email)", "lower(c.last_name)", "lower(c.first_name || ' ' || c.last_name)"]
COMPANY_NAMES = ["lower(co.name)", "lower(co.domain)"]
DEAL_NAMES = ["lower(d.title)"]
ACTIVITY_NAMES = ["lower(a.subject)"]

SEARCH_SQL = f"""
WITH {_candidates("contact", "contacts", "c", CONTACT_NAMES)},
{_candidates("company", "companies", "co", COMPANY_NAMES)},
{_candidates("deal", "deals", "d", DEAL_NAMES)},
{_candidates("activity", "activities", "a", ACTIVITY_NAMES)},
hits AS (
    (SELECT 'contact' AS kind, c.id,
            coalesce(nullif(trim(c.first_name || ' ' || c.last_name), ''), c.email, '') AS title,
            concat_ws(' · ', nullif(c.email, ''), nullif(c.title, '')) AS subtitle,
            {_rank("c.search", _bonus(CONTACT_NAMES))} AS rank
       FROM contact_ids i JOIN contacts c ON c.org_id = :org AND c.id = i.id
      ORDER BY rank DESC, c.id LIMIT :limit)
    UNION ALL
    (SELECT 'company', co.id, co.name, coalesce(co.domain, ''),
            {_rank("co.search", _bonus(COMPANY_NAMES))}
       FROM company_ids i JOIN companies co ON co.org_id = :org AND co.id = i.id
      ORDER BY 5 DESC, co.id LIMIT :limit)
    UNION ALL
    (SELECT 'deal', d.id, d.title,
            (SELECT s.name FROM pipeline_stages s WHERE s.org_id = d.org_id AND s.id = d.stage_id),
            {_rank("d.search", _bonus(DEAL_NAMES))}
       FROM deal_ids i JOIN deals d ON d.org_id = :org AND d.id = i.id
      ORDER BY 5 DESC, d.id LIMIT :limit)
    UNION ALL
    (SELECT 'activity', a.id, a.subject,
            concat_ws(' · ', a.type, to_char(a.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
            {_rank("a.search", _bonus(ACTIVITY_NAMES))}
       FROM activity_ids i JOIN activities a ON a.org_id = :org AND a.id = i.id
      ORDER BY 5 DESC, a.id LIMIT :limit)
)
SELECT kind, id, title, subtitle, rank FROM hits
 ORDER BY rank DESC, kind, id
 LIMIT :limit
"""


async def select_search_hits(
    db: Database, *, org_id: int, tsquery: str, prefix: str, limit: int
) -> list[dict[str, Any]]:
    """Ranked hits of every kind in one org; `tsquery` must come from `service.build_tsquery`."""
    # Planning this statement (twenty-odd scans) costs more than running it, and a custom
    # plan is made on every call whose values the planner thinks deserve one: a generic
    # plan, made once per connection, serves every query equally well. SET LOCAL needs a
    # transaction; asyncpg's own (nested as a savepoint inside a `databases` one) costs a
    # third of what `databases`' transaction did in Python, a tenth of a search miss.
    text, names = numbered(SEARCH_SQL)
    values = search_values(org_id=org_id, tsquery=tsquery, prefix=prefix, limit=limit)
    async with db.connection() as connection:
        raw = connection.raw_connection
        async with raw.transaction():
            await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            rows = await raw.fetch(text, *(values[name] for name in names))
    return [dict(row) for row in rows]


def search_values(*, org_id: int, tsquery: str, prefix: str, limit: int) -> dict[str, object]:
    """The bound values of SEARCH_SQL (exposed so that a test can EXPLAIN it)."""
    return {
        "org": org_id,
        "tsq": tsquery,
        "lo": prefix,
        "hi": prefix + "\U0010ffff",
        "limit": limit,
        "cap": CANDIDATES,
    }
