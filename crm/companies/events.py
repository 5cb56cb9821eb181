"""The event payloads companies emit: the wire record, or just the id once deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WIRE_FIELDS = ("id", "name", "domain", "phone", "address", "owner_id", "version", "created_at", "updated_at")


def company_record(company: Mapping[str, Any]) -> dict[str, Any]:
    return {field: company[field] for field in WIRE_FIELDS}


def company_deleted(company_id: int) -> dict[str, Any]:
    return {"id": company_id}


def activity_deleted(activity_id: int) -> dict[str, Any]:
    return {"id": activity_id}
