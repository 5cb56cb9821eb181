"""Event payloads for activities: `data` is the wire record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm.activities.queries import ACTIVITY_FIELDS


def activity_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ACTIVITY_FIELDS}


def activity_created(activity: Mapping[str, Any]) -> dict[str, Any]:
    return activity_record(activity)


def activity_updated(activity: Mapping[str, Any]) -> dict[str, Any]:
    return activity_record(activity)


def activity_deleted(activity: Mapping[str, Any]) -> dict[str, Any]:
    return activity_record(activity)
