"""List parameters shared by the record lists (companies, contacts).

`sort`, an opaque keyset `cursor` that encodes the sort, its key and the id,
a prefix full-text `q`, `owner=`/`company=`/`updated_since=` filters, and the
`version` a PATCH must carry (body or If-Match).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm.errors import APIError
from crm.http import decode_cursor, encode_cursor, parse_int_param, parse_limit, version_from_if_match
from crm.listpages import PageQuery, page_query

SORTS = ("name", "-name", "created_at", "-created_at", "updated_at", "-updated_at")
DEFAULT_SORT = "name"
MAX_Q_LENGTH = 200
MAX_Q_WORDS = 8
MAX_CURSOR_LENGTH = 2048
# Characters with a meaning in tsquery syntax (and quoting) split words; they never reach to_tsquery.
TSQUERY_SPECIALS = re.compile(r"[\s&|!():*<>'\"\\]+")


@dataclass(frozen=True)
class ListParams:
    limit: int
    sort: str
    after: list[Any] | None  # keyset: the sort key value(s), then the id
    tsquery: str | None
    owner_id: int | None
    company_id: int | None
    updated_since: datetime | None
    key_count: int  # sort key values in a cursor (the contact name sorts on two)

    @property
    def field(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def invalid(field: str, why: str) -> APIError:
    return APIError(422, "validation_error", fields={field: why})


def parse_sort(raw: str | None) -> str:
    if raw is None or raw == "":
        return DEFAULT_SORT
    if raw not in SORTS:
        raise invalid("sort", f"must be one of {', '.join(SORTS)}")
    return raw


def prefix_tsquery(raw: str | None) -> str | None:
    """`q` as a safe prefix tsquery: each word quoted as a lexeme with `:*`, words ANDed.

    None when q has no searchable word (only spaces or punctuation)."""
    if raw is None:
        return None
    if len(raw) > MAX_Q_LENGTH:
        raise invalid("q", f"must be at most {MAX_Q_LENGTH} characters")
    words = [w for w in TSQUERY_SPECIALS.split(raw.lower()) if any(ch.isalnum() for ch in w)]
    if not words:
        return None
    return " & ".join(f"'{word}':*" for word in words[:MAX_Q_WORDS])


def parse_datetime(field: str, raw: str | None) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(field, "must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def encode_keyset(sort: str, row: Mapping[str, Any], key_count: int) -> str:
    keys = [row[f"_k{i}"] for i in range(key_count)]
    return encode_cursor([sort, *[k.isoformat() if isinstance(k, datetime) else k for k in keys], row["id"]])


def decode_keyset(raw: str | None, *, sort: str, key_count: int) -> list[Any] | None:
    """The keyset values in a cursor made for this sort; anything else is a 422 on `cursor`."""
    if raw is not None and len(raw) > MAX_CURSOR_LENGTH:
        raise invalid("cursor", "is not a valid cursor")
    values = decode_cursor(raw, length=key_count + 2)
    if values is None:
        return None
    cursor_sort, *keys, last_id = values
    if cursor_sort != sort:
        raise invalid("cursor", "belongs to another sort order")
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 < last_id < 2**63:
        raise invalid("cursor", "is not a valid cursor")
    if not all(isinstance(k, str) and len(k) <= 1000 for k in keys):
        raise invalid("cursor", "is not a valid cursor")
    if sort.lstrip("-") != "name":
        try:
            keys = [datetime.fromisoformat(k) for k in keys]
        except ValueError:
            raise invalid("cursor", "is not a valid cursor") from None
        if any(k.tzinfo is None for k in keys):
            raise invalid("cursor", "is not a valid cursor")
    return [*keys, last_id]


def parse_list_args(args: Mapping[str, str], *, name_keys: int, filters: Sequence[str] = ("owner",)) -> ListParams:
    """Read a list's query string; every bad value is a 422 naming its parameter."""
    limit = parse_limit(args.get("limit"))
    sort = parse_sort(args.get("sort"))
    key_count = name_keys if sort.lstrip("-") == "name" else 1
    return ListParams(
        limit=limit,
        sort=sort,
        after=decode_keyset(args.get("cursor"), sort=sort, key_count=key_count),
        tsquery=prefix_tsquery(args.get("q")),
        owner_id=parse_int_param("owner", args.get("owner")) if "owner" in filters else None,
        company_id=parse_int_param("company", args.get("company")) if "company" in filters else None,
        updated_since=parse_datetime("updated_since", args.get("updated_since")),
        key_count=key_count,
    )


def keyset_after(params: ListParams, sort_keys: Mapping[str, Sequence[str]], id_column: str) -> str:
    """The condition for rows after the cursor ("" without one); the cursor values bind
    as :k0, :k1, ... in the order of the sort keys, then the id."""
    if params.after is None:
        return ""
    exprs = [*sort_keys[params.field], id_column]
    operator = "<" if params.descending else ">"
    return f"({', '.join(exprs)}) {operator} ({', '.join(f':k{i}' for i in range(len(exprs)))})"


def keyset_values(params: ListParams) -> dict[str, Any]:
    return {f"k{i}": value for i, value in enumerate(params.after or [])}


def page_sql(
    *, table: str, columns: str, org_id: int, params: ListParams, sort_keys: Mapping[str, Sequence[str]]
) -> PageQuery:
    """The keyset list query for `table` (aliased `c`), shared by contacts and companies: org scope,
    cursor, `q`, and the owner/company/updated_since filters that are set in `params`."""
    after = keyset_after(params, sort_keys, "c.id")
    where = ["c.org_id = :org"]
    values: dict[str, Any] = {"org": org_id, "limit": params.limit + 1, **keyset_values(params)}
    if after:
        where.append(after)
    for condition, name, value in (
        ("c.owner_id = :owner", "owner", params.owner_id),
        ("c.company_id = :company", "company", params.company_id),
        ("c.updated_at >= :updated_since", "updated_since", params.updated_since),
    ):
        if value is not None:
            where.append(condition)
            values[name] = value
    text_match = None
    if params.tsquery is not None:
        text_match = "c.search_key @@ tenant_tsquery(:org, to_tsquery('simple', :tsquery))"
        values["tsquery"] = params.tsquery
    return page_query(
        table=table,
        alias="c",
        columns=columns,
        keys=[(expression, f"_k{i}") for i, expression in enumerate(sort_keys[params.field])],
        descending=params.descending,
        where=where,
        text_match=text_match,
        values=values,
    )


def page_of(rows: Sequence[Mapping[str, Any]], params: ListParams) -> dict[str, Any]:
    """{"items", "next_cursor"} from limit + 1 rows; the `_k` key columns stay off the wire."""
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = encode_keyset(params.sort, rows[-1], params.key_count) if more and rows else None
    items = [{k: v for k, v in row.items() if not k.startswith("_k")} for row in rows]
    return {"items": items, "next_cursor": next_cursor}


def version_from(body_version: int | None, if_match: str | None) -> int:
    """The version a PATCH is based on: `version` in the body, else the If-Match header."""
    if body_version is not None:
        return body_version
    header_version = version_from_if_match(if_match)
    if header_version is not None:
        return header_version
    raise invalid("version", "is required (in the body or an If-Match header)")
