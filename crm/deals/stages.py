"""Pipeline stages: admins add, rename, reorder and remove them.

Rules: a stage with deals cannot be deleted or change kind (409 `stage_not_empty`:
move its deals first), and an org always keeps at least one open stage (409
`last_open_stage`). Positions are renumbered 0..n-1 after every structural change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from databases import Database

from crm.deals import events, stage_queries
from crm.deals.common import retry_on_deadlock
from crm.errors import APIError
from crm.tenancy.scope import OrgScope
from crm.uow import WriteTransaction, write_transaction

STAGE_DOMAINS = ("stages", "pipeline", "deals", "dashboard")


async def list_stages(db: Database, *, org: OrgScope) -> list[dict[str, Any]]:
    return [events.stage_record(row) for row in await stage_queries.select_stages(db, org_id=org.id)]


async def _renumber(db: Database, *, org: OrgScope, ordered: list[Mapping[str, Any]]) -> None:
    for position, stage in enumerate(ordered):
        if stage["position"] != position:
            await stage_queries.update_stage_position(db, org_id=org.id, stage_id=stage["id"], position=position)


def _place(stages: list[Mapping[str, Any]], stage: Mapping[str, Any], position: int | None) -> list[Mapping[str, Any]]:
    others = [s for s in stages if s["id"] != stage["id"]]
    index = len(others) if position is None else min(position, len(others))
    return [*others[:index], stage, *others[index:]]


async def _emit(tx: WriteTransaction, org: OrgScope, type: str, data: dict[str, Any]) -> None:
    tx.invalidate(org.id, *STAGE_DOMAINS)
    await tx.event(org.id, type, actor=org.user_id, data=data)


async def _stage_out(db: Database, *, org: OrgScope, stage_id: int) -> dict[str, Any]:
    row = await stage_queries.select_stage(db, org_id=org.id, stage_id=stage_id)
    assert row is not None
    return events.stage_record(row)


@retry_on_deadlock
async def create_stage(db: Database, *, org: OrgScope, name: str, kind: str, position: int | None) -> dict[str, Any]:
    """Add a stage at `position` (0 = first column; default: last)."""
    org.require("admin")
    async with write_transaction(db) as tx:
        stages = await stage_queries.lock_stages(db, org_id=org.id)
        stage_id = await stage_queries.insert_stage(db, org_id=org.id, name=name, kind=kind, position=len(stages))
        ordered = _place(stages, {"id": stage_id, "position": len(stages)}, position)
        await _renumber(db, org=org, ordered=ordered)
        record = await _stage_out(db, org=org, stage_id=stage_id)
        await _emit(tx, org, "stage.created", events.stage_changed(record, order=ordered))
    return record


@retry_on_deadlock
async def update_stage(
    db: Database, *, org: OrgScope, stage_id: int, changes: dict[str, Any], version: int | None
) -> dict[str, Any]:
    """Rename, re-kind (only when empty) or move a stage to another column position."""
    org.require("admin")
    async with write_transaction(db) as tx:
        stages = await stage_queries.lock_stages(db, org_id=org.id)
        stage = next((s for s in stages if s["id"] == stage_id), None)
        if stage is None:
            raise APIError(404, "stage_not_found", "No such stage.")
        current = await _stage_out(db, org=org, stage_id=stage_id)
        if version is not None and version != current["version"]:
            raise APIError(409, "version_conflict", current=current)
        kind = changes.get("kind", stage["kind"])
        if kind != stage["kind"]:
            if await stage_queries.stage_has_deals(db, org_id=org.id, stage_id=stage_id):
                raise APIError(409, "stage_not_empty", "Move this stage's deals out before changing its kind.")
            if stage["kind"] == "open" and sum(s["kind"] == "open" for s in stages) <= 1:
                raise APIError(409, "last_open_stage", "The pipeline needs at least one open stage.")
        fields = {k: v for k, v in changes.items() if k in ("name", "kind") and current[k] != v}
        if fields:
            await stage_queries.update_stage(db, org_id=org.id, stage_id=stage_id, changes=fields)
        ordered = _place(stages, stage, changes["position"]) if "position" in changes else stages
        await _renumber(db, org=org, ordered=ordered)
        record = await _stage_out(db, org=org, stage_id=stage_id)
        if record["version"] != current["version"]:
            await _emit(tx, org, "stage.updated", events.stage_changed(record, order=ordered))
    return record


@retry_on_deadlock
async def delete_stage(db: Database, *, org: OrgScope, stage_id: int) -> None:
    """Remove an empty stage; the last open stage stays."""
    org.require("admin")
    async with write_transaction(db) as tx:
        stages = await stage_queries.lock_stages(db, org_id=org.id)
        stage = next((s for s in stages if s["id"] == stage_id), None)
        if stage is None:
            raise APIError(404, "stage_not_found", "No such stage.")
        if await stage_queries.stage_has_deals(db, org_id=org.id, stage_id=stage_id):
            raise APIError(409, "stage_not_empty", "Move this stage's deals out before deleting it.")
        if stage["kind"] == "open" and sum(s["kind"] == "open" for s in stages) <= 1:
            raise APIError(409, "last_open_stage", "The pipeline needs at least one open stage.")
        current = await _stage_out(db, org=org, stage_id=stage_id)
        await stage_queries.delete_stage(db, org_id=org.id, stage_id=stage_id)
        ordered = [s for s in stages if s["id"] != stage_id]
        await _renumber(db, org=org, ordered=ordered)
        await _emit(tx, org, "stage.deleted", events.stage_changed(current, order=ordered))
