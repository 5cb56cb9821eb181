"""Event payloads for deals and stages: `data` is the wire record (plus what a board needs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm.deals.queries import DEAL_FIELDS

STAGE_FIELDS = ("id", "name", "position", "kind", "count", "value", "version", "created_at", "updated_at")


def deal_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in DEAL_FIELDS}


def stage_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in STAGE_FIELDS}


def deal_created(deal: Mapping[str, Any]) -> dict[str, Any]:
    return deal_record(deal)


def deal_updated(deal: Mapping[str, Any], *, from_stage_id: int) -> dict[str, Any]:
    return {**deal_record(deal), "from_stage_id": from_stage_id}


def deal_moved(
    deal: Mapping[str, Any], *, from_stage_id: int, before_id: int | None, after_id: int | None
) -> dict[str, Any]:
    """A card changed column or place: enough for a board to apply it without a fetch."""
    return {**deal_record(deal), "from_stage_id": from_stage_id, "before_id": before_id, "after_id": after_id}


def deal_deleted(deal: Mapping[str, Any]) -> dict[str, Any]:
    return deal_record(deal)


def stage_changed(stage: Mapping[str, Any], *, order: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The stage plus `order`, every stage id in board order after the change (columns may shift)."""
    return {**stage_record(stage), "order": [s["id"] for s in order]}
