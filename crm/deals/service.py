"""Deals: the rules, one transaction per write, events and cache invalidation after commit.

Card order: each stage column is ordered by `position`, a fractional order key
(crm.deals.ordering). Placing a card locks its old and new stage rows (in id
order), reads the keys of its new neighbours and writes only the moved card.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from asyncpg.exceptions import ForeignKeyViolationError, NumericValueOutOfRangeError
from databases import Database

from crm.db import Row
from crm.deals import events, ordering, queries, stage_queries
from crm.deals.common import foreign_key_error, retry_on_deadlock
from crm.deals.queries import SORTS, DealFilters
from crm.errors import APIError
from crm.http import decode_cursor, encode_cursor
from crm.notifications import service as notifications
from crm.tenancy.scope import OrgScope
from crm.uow import WriteTransaction, write_transaction

DEAL_DOMAINS = ("deals", "pipeline", "dashboard", "search")


def _stage_timestamps(kind: str, current: Mapping[str, Any] | None) -> dict[str, Any]:
    """won_at/lost_at for a deal entering a stage of `kind` (kept when it stays won or lost)."""
    won_at = (current["won_at"] if current else None) or queries.NOW
    lost_at = (current["lost_at"] if current else None) or queries.NOW
    return {
        "won_at": won_at if kind == "won" else None,
        "lost_at": lost_at if kind == "lost" else None,
    }


def _total_overflow() -> APIError:
    """The stage and month rollups are bigint sums: refuse the amount rather than fail with a 500."""
    return APIError(422, "validation_error", fields={"amount": "would overflow the pipeline totals"})


async def _lock_target_stage(db: Database, *, org: OrgScope, stage_id: int | None) -> Row:
    if stage_id is None:
        stage = await stage_queries.lock_first_open_stage(db, org_id=org.id)
        if stage is None:
            raise APIError(422, "validation_error", fields={"stage_id": "the pipeline has no open stage"})
        return stage
    stage = await stage_queries.lock_stage_column(db, org_id=org.id, stage_id=stage_id)
    if stage is None:
        raise APIError(422, "validation_error", fields={"stage_id": "no such stage in this organisation"})
    return stage


async def _lock_stage_pair(db: Database, *, org: OrgScope, source_id: int, target_id: int) -> Row:
    """Lock the card's old and new columns in id order, so that crossing moves (whose rollup
    triggers touch both stages' totals) queue instead of deadlocking. Returns the target."""
    target: Row | None = None
    for stage_id in sorted({source_id, target_id}):
        locked = await _lock_target_stage(db, org=org, stage_id=stage_id)
        if stage_id == target_id:
            target = locked
    assert target is not None
    return target


async def _locked_deal(db: Database, *, org: OrgScope, deal_id: int, version: int | None) -> Row:
    deal = await queries.select_deal(db, org_id=org.id, deal_id=deal_id, for_update=True)
    if deal is None:
        raise APIError(404, "deal_not_found", "No such deal.")
    if version is not None and deal["version"] != version:
        raise APIError(409, "version_conflict", current=events.deal_record(deal))
    return deal


async def _emit(tx: WriteTransaction, org: OrgScope, type: str, data: dict[str, Any], *extra_domains: str) -> None:
    tx.invalidate(org.id, *DEAL_DOMAINS, *extra_domains)
    await tx.event(org.id, type, actor=org.user_id, data=data)


async def get_deal(db: Database, *, org: OrgScope, deal_id: int) -> dict[str, Any]:
    deal = await queries.select_deal(db, org_id=org.id, deal_id=deal_id)
    if deal is None:
        raise APIError(404, "deal_not_found", "No such deal.")
    return events.deal_record(deal)


@retry_on_deadlock
async def create_deal(db: Database, *, org: OrgScope, fields: dict[str, Any]) -> dict[str, Any]:
    """Create a deal at the bottom of its stage (default: the first open stage), owned by the caller by default."""
    async with write_transaction(db) as tx:
        stage = await _lock_target_stage(db, org=org, stage_id=fields.get("stage_id"))
        last = await queries.select_last_position(db, org_id=org.id, stage_id=stage["id"], exclude_id=None)
        values = {
            **fields,
            "stage_id": stage["id"],
            "position": ordering.key_between(last, None),
            "currency": fields.get("currency") or await queries.select_org_currency(db, org_id=org.id),
            "owner_id": fields.get("owner_id", org.user_id),
            **_stage_timestamps(stage["kind"], None),
        }
        try:
            deal = await queries.insert_deal(db, org_id=org.id, values=values)
        except ForeignKeyViolationError as error:
            raise foreign_key_error(error) from None
        except NumericValueOutOfRangeError:
            raise _total_overflow() from None
        record = events.deal_record(deal)
        await _emit(tx, org, "deal.created", events.deal_created(record))
        await notifications.notify_deal_changes(tx, org_id=org.id, before=None, after=record, actor=org.user_id)
    return record


@retry_on_deadlock
async def update_deal(
    db: Database, *, org: OrgScope, deal_id: int, changes: dict[str, Any], version: int
) -> dict[str, Any]:
    """Change the fields sent; a new stage_id puts the card at the bottom of that column."""
    async with write_transaction(db) as tx:
        current = await _locked_deal(db, org=org, deal_id=deal_id, version=version)
        changes = {k: v for k, v in changes.items() if current[k] != v}
        if not changes:
            return events.deal_record(current)
        if "stage_id" in changes:
            stage = await _lock_stage_pair(db, org=org, source_id=current["stage_id"], target_id=changes["stage_id"])
            last = await queries.select_last_position(db, org_id=org.id, stage_id=stage["id"], exclude_id=deal_id)
            changes["position"] = ordering.key_between(last, None)
            changes.update(_stage_timestamps(stage["kind"], current))
        try:
            deal = await queries.update_deal(db, org_id=org.id, deal_id=deal_id, changes=changes)
        except ForeignKeyViolationError as error:
            raise foreign_key_error(error) from None
        except NumericValueOutOfRangeError:
            raise _total_overflow() from None
        record = events.deal_record(deal)
        await _emit(tx, org, "deal.updated", events.deal_updated(record, from_stage_id=current["stage_id"]))
        await notifications.notify_deal_changes(tx, org_id=org.id, before=current, after=record, actor=org.user_id)
    return record


async def _neighbour(db: Database, *, org: OrgScope, deal_id: int, stage_id: int, field: str) -> str:
    """The order key of a card the client named as neighbour; it must be another card of the target stage."""
    row = await queries.select_deal(db, org_id=org.id, deal_id=deal_id)
    if row is None:
        raise APIError(422, "validation_error", fields={field: "no such deal in this organisation"})
    if row["stage_id"] != stage_id:
        raise APIError(422, "validation_error", fields={field: "is not in the target stage"})
    return str(row["position"])


async def _gap_for_move(
    db: Database, *, org: OrgScope, deal_id: int, stage_id: int, before_id: int | None, after_id: int | None
) -> tuple[str | None, str | None]:
    """The keys (above, below) between which the moved card goes; None is the column's open end."""
    for field, other in (("before_id", before_id), ("after_id", after_id)):
        if other == deal_id:
            raise APIError(422, "validation_error", fields={field: "cannot be the moved deal itself"})
    above = (
        await _neighbour(db, org=org, deal_id=before_id, stage_id=stage_id, field="before_id") if before_id else None
    )
    below = await _neighbour(db, org=org, deal_id=after_id, stage_id=stage_id, field="after_id") if after_id else None
    scope = {"org_id": org.id, "stage_id": stage_id, "exclude_id": deal_id}
    if above is not None and below is not None:
        next_key = await queries.select_position_below(db, position=above, **scope)
        if above >= below or next_key != below:
            raise APIError(
                422,
                "not_adjacent",
                "before_id must be the card right above after_id.",
                fields={"before_id": "is not right above after_id", "after_id": "is not right below before_id"},
            )
    elif above is not None:
        below = await queries.select_position_below(db, position=above, **scope)
    elif below is not None:
        above = await queries.select_position_above(db, position=below, **scope)
    else:
        above = await queries.select_last_position(db, org_id=org.id, stage_id=stage_id, exclude_id=deal_id)
    return above, below


@retry_on_deadlock
async def move_deal(
    db: Database,
    *,
    org: OrgScope,
    deal_id: int,
    stage_id: int,
    before_id: int | None,
    after_id: int | None,
    version: int,
) -> dict[str, Any]:
    """Put a card into a stage between two neighbours (none: bottom). Writes one row."""
    async with write_transaction(db) as tx:
        current = await _locked_deal(db, org=org, deal_id=deal_id, version=version)
        stage = await _lock_stage_pair(db, org=org, source_id=current["stage_id"], target_id=stage_id)
        above, below = await _gap_for_move(
            db, org=org, deal_id=deal_id, stage_id=stage_id, before_id=before_id, after_id=after_id
        )
        position = str(current["position"])
        already_there = (
            current["stage_id"] == stage_id
            and (above is None or above < position)
            and (below is None or position < below)
        )
        if already_there:
            return events.deal_record(current)
        changes: dict[str, Any] = {"stage_id": stage_id, "position": ordering.key_between(above, below)}
        if current["stage_id"] != stage_id:
            changes.update(_stage_timestamps(stage["kind"], current))
        try:
            deal = await queries.update_deal(db, org_id=org.id, deal_id=deal_id, changes=changes)
        except NumericValueOutOfRangeError:
            raise _total_overflow() from None
        record = events.deal_record(deal)
        data = events.deal_moved(record, from_stage_id=current["stage_id"], before_id=before_id, after_id=after_id)
        await _emit(tx, org, "deal.moved", data)
        await notifications.notify_deal_changes(tx, org_id=org.id, before=current, after=record, actor=org.user_id)
    return record


@retry_on_deadlock
async def delete_deal(db: Database, *, org: OrgScope, deal_id: int, version: int | None) -> None:
    """Delete a deal; its activities go with it (they only make sense with the deal)."""
    async with write_transaction(db) as tx:
        current = await _locked_deal(db, org=org, deal_id=deal_id, version=version)
        await queries.delete_deal(db, org_id=org.id, deal_id=deal_id)
        await _emit(tx, org, "deal.deleted", events.deal_deleted(current), "activities")


def _cursor_key(kind: str, value: Any) -> Any:
    """A keyset value from a cursor, typed for its sort; anything else is a bad cursor."""
    try:
        if kind == "timestamp" and isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError:
        pass
    if kind == "int" and type(value) is int and 0 <= value < 2**63:
        return value
    if kind == "text" and isinstance(value, str) and len(value) <= 1000 and "\x00" not in value:
        return value
    raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor"})


def decode_keyset(raw: str | None, *, sort: str, kind: str) -> tuple[Any, int] | None:
    values = decode_cursor(raw, length=3)
    if values is None:
        return None
    name, key, last_id = values
    if name != sort or type(last_id) is not int or not 0 < last_id < 2**63:
        raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor for this sort"})
    return _cursor_key(kind, key), last_id


def encode_keyset(sort: str, row: Mapping[str, Any]) -> str:
    key = row["sort_key"]
    return encode_cursor([sort, key.isoformat() if isinstance(key, (date, datetime)) else key, row["id"]])


async def list_deals(
    db: Database, *, org: OrgScope, filters: DealFilters, sort: str, cursor: str | None, limit: int
) -> dict[str, Any]:
    after = decode_keyset(cursor, sort=sort, kind=SORTS[sort][2])
    rows = await queries.select_deals_page(db, org_id=org.id, filters=filters, sort=sort, after=after, limit=limit)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [events.deal_record(row) for row in rows],
        "next_cursor": encode_keyset(sort, rows[-1]) if more and rows else None,
    }


async def pipeline(db: Database, *, org: OrgScope, filters: DealFilters, per_stage: int) -> dict[str, Any]:
    """The board: every stage with its totals and its first `per_stage` deals in order."""
    stages = [
        {**events.stage_record(stage), "deals": [], "has_more": False}
        for stage in await stage_queries.select_stages(db, org_id=org.id)
    ]
    by_id = {stage["id"]: stage for stage in stages}
    for row in await queries.select_board_deals(db, org_id=org.id, filters=filters, per_stage=per_stage):
        stage = by_id.get(row["stage_id"])
        if stage is None:
            continue  # a stage created between the two reads
        if len(stage["deals"]) < per_stage:
            stage["deals"].append(events.deal_record(row))
        else:
            stage["has_more"] = True
    return {"stages": stages}
