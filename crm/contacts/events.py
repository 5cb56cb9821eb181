"""The event payloads contacts emit: the wire record, or just the id once deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WIRE_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company_id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
)


def contact_record(contact: Mapping[str, Any]) -> dict[str, Any]:
    return {field: contact[field] for field in WIRE_FIELDS}


def contact_deleted(contact_id: int) -> dict[str, Any]:
    return {"id": contact_id}


def activity_deleted(activity_id: int) -> dict[str, Any]:
    return {"id": activity_id}
