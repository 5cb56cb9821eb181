"""Search: turn free text into a safe prefix tsquery, then rank hits across kinds."""

from __future__ import annotations

import re
from typing import Any

from databases import Database

from crm.errors import APIError
from crm.search import queries
from crm.tenancy.scope import OrgScope

MAX_QUERY_LENGTH = 200
MAX_WORDS = 8
# Letters and digits only: every tsquery operator (& | ! < > ( ) : * ' \) and underscore is a separator.
WORD = re.compile(r"[^\W_]+")


def query_words(q: str) -> list[str]:
    return WORD.findall(q.lower())[:MAX_WORDS]


def build_tsquery(words: list[str]) -> str:
    """'w1':* & 'w2':* ... Words are letters and digits only, so nothing in them is an operator.

    A one-letter word matches exactly instead of by prefix: a prefix of one letter
    matches most of an org, and the name/email prefix branches serve that typing case.
    """
    return " & ".join(f"'{word}':*" if len(word) > 1 else f"'{word}'" for word in words)


def validate_query(raw: str | None) -> tuple[str, list[str]]:
    q = (raw or "").strip()
    if not q:
        raise APIError(422, "validation_error", fields={"q": "is required"})
    if len(q) > MAX_QUERY_LENGTH:
        raise APIError(422, "validation_error", fields={"q": f"must be at most {MAX_QUERY_LENGTH} characters"})
    words = query_words(q)
    if not words:
        raise APIError(422, "validation_error", fields={"q": "must contain a letter or digit"})
    return q, words


async def search(db: Database, *, org: OrgScope, q: str, limit: int) -> dict[str, Any]:
    """Ranked contacts, companies, deals and activities of the org that match `q`."""
    q, words = validate_query(q)
    rows = await queries.select_search_hits(
        db, org_id=org.id, tsquery=build_tsquery(words), prefix=" ".join(q.lower().split()), limit=limit
    )
    items = [
        {
            "kind": row["kind"],
            "id": row["id"],
            "title": row["title"],
            "subtitle": row["subtitle"] or "",
            "rank": round(float(row["rank"]), 4),
        }
        for row in rows
    ]
    return {"items": items, "q": q}
