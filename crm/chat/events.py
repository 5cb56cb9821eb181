"""The payloads and audiences of chat events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPEN_KINDS = ("public", "deal")


def audience(channel: Mapping[str, Any], member_ids: list[int]) -> dict[str, Any]:
    """Public and deal channels: the whole org; private channels and DMs: their members."""
    if channel["kind"] in OPEN_KINDS:
        return {"scope": "org"}
    return {"scope": "users", "user_ids": sorted(set(member_ids))}


def message(action: str, msg: Mapping[str, Any]) -> dict[str, Any]:
    """chat.message: action is created, edited or deleted."""
    return {"action": action, "channel_id": msg["channel_id"], "message": dict(msg)}


def read(channel_id: int, user_id: int, message_id: int) -> dict[str, Any]:
    return {"channel_id": channel_id, "user_id": user_id, "message_id": message_id}


def typing(channel_id: int, user_id: int) -> dict[str, Any]:
    return {"channel_id": channel_id, "user_id": user_id}


CHANNEL_FIELDS = ("id", "kind", "name", "deal_id", "created_by", "archived", "member_ids", "version")


def channel(action: str, ch: Mapping[str, Any]) -> dict[str, Any]:
    """chat.channel: action is created, updated or members."""
    return {"action": action, "channel": {k: ch[k] for k in CHANNEL_FIELDS if k in ch}}
