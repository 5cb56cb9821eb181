"""Helpers deals and activities share: versions from body or If-Match, id errors, safe tsquery."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar, cast

from asyncpg.exceptions import DeadlockDetectedError, ForeignKeyViolationError

from crm.errors import APIError
from crm.http import version_from_if_match

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
DEADLOCK_ATTEMPTS = 3

# constraint-name fragment -> the request field it is about (0001's composite tenant FKs)
FK_FIELDS = (
    ("stage_id", "stage_id"),
    ("contact_id", "contact_id"),
    ("company_id", "company_id"),
    ("owner_id", "owner_id"),
    ("deal_id", "deal_id"),
)
FK_MESSAGES = {
    "stage_id": "no such stage in this organisation",
    "contact_id": "no such contact in this organisation",
    "company_id": "no such company in this organisation",
    "owner_id": "is not a member of this organisation",
    "deal_id": "no such deal in this organisation",
}
MAX_QUERY_WORDS = 8


def foreign_key_error(error: ForeignKeyViolationError) -> APIError:
    """A reference into nothing (or into another org) is the client's mistake: 422 on that field."""
    constraint = getattr(error, "constraint_name", "") or ""
    for fragment, field in FK_FIELDS:
        if fragment in constraint:
            return APIError(422, "validation_error", fields={field: FK_MESSAGES[field]})
    return APIError(422, "validation_error", fields={"body": "refers to a record that does not exist"})


def parse_if_match(raw: str | None) -> int | None:
    """`If-Match: "3"` (or W/"3", 3, or the record's ETag) -> 3; `*` or absent -> None."""
    return version_from_if_match(raw)


def required_version(body_version: int | None, if_match: str | None) -> int:
    header_version = parse_if_match(if_match)
    version = body_version if body_version is not None else header_version
    if version is None:
        raise APIError(422, "validation_error", fields={"version": "is required (send version or If-Match)"})
    return version


def prefix_tsquery(q: str | None) -> str | None:
    """Words of `q` as a prefix tsquery ('acme:* & ren:*'); only letters and digits reach to_tsquery."""
    if q is None:
        return None
    words = re.findall(r"[^\W_]+", q.lower())[:MAX_QUERY_WORDS]
    if not words:
        return None
    return " & ".join(f"{word[:64]}:*" for word in words)


def parse_datetime_param(name: str, raw: str | None) -> datetime | None:
    """An ISO 8601 query parameter; without an offset it is UTC. Bad values are a 422 on `name`."""
    if raw is None or raw == "":
        return None
    # a '+' in an unencoded query string arrives as a space
    text = raw.strip()
    if "T" in text:
        text = text.replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise APIError(422, "validation_error", fields={name: "must be an ISO 8601 date-time"}) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_choice(name: str, raw: str | None, choices: tuple[str, ...]) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise APIError(422, "validation_error", fields={name: f"must be one of {', '.join(choices)}"})
    return raw


def retry_on_deadlock(func: F) -> F:
    """Run a write service again when PostgreSQL picked its transaction as a deadlock victim.

    Rollup triggers of other features update shared rows (per-stage, per-month totals) in
    data-dependent order; a victim's transaction rolled back whole, so running it again is safe.
    """

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return await func(*args, **kwargs)
            except DeadlockDetectedError:
                log.warning("%s lost a deadlock (attempt %d of %d)", func.__name__, attempt, DEADLOCK_ATTEMPTS)
        raise APIError(409, "write_conflict", "Others are changing the same records; try again.")

    return cast(F, wrapper)
