"""Activities: one transaction per write, the event in it, cache invalidation after commit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from asyncpg.exceptions import ForeignKeyViolationError
from databases import Database

from crm.activities import events, queries
from crm.activities.queries import ActivityFilters
from crm.db import Row
from crm.deals.common import foreign_key_error, retry_on_deadlock
from crm.errors import APIError
from crm.http import decode_cursor, encode_cursor
from crm.tenancy.scope import OrgScope
from crm.uow import WriteTransaction, write_transaction

# an activity shows on its deal's page and in the dashboard's due/overdue counts
ACTIVITY_DOMAINS = ("activities", "dashboard", "search")


async def _emit(tx: WriteTransaction, org: OrgScope, type: str, data: dict[str, Any]) -> None:
    tx.invalidate(org.id, *ACTIVITY_DOMAINS)
    await tx.event(org.id, type, actor=org.user_id, data=data)


async def _locked_activity(db: Database, *, org: OrgScope, activity_id: int, version: int | None) -> Row:
    activity = await queries.select_activity(db, org_id=org.id, activity_id=activity_id, for_update=True)
    if activity is None:
        raise APIError(404, "activity_not_found", "No such activity.")
    if version is not None and activity["version"] != version:
        raise APIError(409, "version_conflict", current=events.activity_record(activity))
    return activity


async def get_activity(db: Database, *, org: OrgScope, activity_id: int) -> dict[str, Any]:
    activity = await queries.select_activity(db, org_id=org.id, activity_id=activity_id)
    if activity is None:
        raise APIError(404, "activity_not_found", "No such activity.")
    return events.activity_record(activity)


@retry_on_deadlock
async def create_activity(db: Database, *, org: OrgScope, fields: dict[str, Any]) -> dict[str, Any]:
    """Log or schedule an activity; the caller owns it unless owner_id says otherwise."""
    values = {**fields, "done": fields.get("done", False), "owner_id": fields.get("owner_id", org.user_id)}
    async with write_transaction(db) as tx:
        try:
            activity = await queries.insert_activity(db, org_id=org.id, values=values)
        except ForeignKeyViolationError as error:
            raise foreign_key_error(error) from None
        record = events.activity_record(activity)
        await _emit(tx, org, "activity.created", events.activity_created(record))
    return record


@retry_on_deadlock
async def update_activity(
    db: Database, *, org: OrgScope, activity_id: int, changes: dict[str, Any], version: int
) -> dict[str, Any]:
    """Change the fields sent (marking done stamps done_at); a stale version is a 409."""
    async with write_transaction(db) as tx:
        current = await _locked_activity(db, org=org, activity_id=activity_id, version=version)
        changes = {k: v for k, v in changes.items() if current[k] != v}
        if not changes:
            return events.activity_record(current)
        try:
            activity = await queries.update_activity(db, org_id=org.id, activity_id=activity_id, changes=changes)
        except ForeignKeyViolationError as error:
            raise foreign_key_error(error) from None
        record = events.activity_record(activity)
        await _emit(tx, org, "activity.updated", events.activity_updated(record))
    return record


@retry_on_deadlock
async def delete_activity(db: Database, *, org: OrgScope, activity_id: int, version: int | None) -> None:
    async with write_transaction(db) as tx:
        current = await _locked_activity(db, org=org, activity_id=activity_id, version=version)
        await queries.delete_activity(db, org_id=org.id, activity_id=activity_id)
        await _emit(tx, org, "activity.deleted", events.activity_deleted(current))


def _decode_keyset(raw: str | None, *, sort: str) -> tuple[datetime, int] | None:
    values = decode_cursor(raw, length=3)
    if values is None:
        return None
    name, key, last_id = values
    bad = APIError(422, "validation_error", fields={"cursor": "is not a valid cursor for this sort"})
    if name != sort or not isinstance(key, str) or type(last_id) is not int or not 0 < last_id < 2**63:
        raise bad
    try:
        parsed = datetime.fromisoformat(key)
    except ValueError:
        raise bad from None
    if parsed.tzinfo is None:
        raise bad
    return parsed, last_id


def _encode_keyset(sort: str, row: Mapping[str, Any]) -> str:
    return encode_cursor([sort, row["sort_key"].isoformat(), row["id"]])


async def list_activities(
    db: Database, *, org: OrgScope, filters: ActivityFilters, sort: str, cursor: str | None, limit: int
) -> dict[str, Any]:
    after = _decode_keyset(cursor, sort=sort)
    rows = await queries.select_activities_page(db, org_id=org.id, filters=filters, sort=sort, after=after, limit=limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [events.activity_record(row) for row in rows],
        "next_cursor": _encode_keyset(sort, rows[-1]) if more and rows else None,
    }
