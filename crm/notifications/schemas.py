"""Request and response models for the notification inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

Id = Annotated[StrictInt, Field(gt=0, lt=2**63)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MarkRead(Strict):
    ids: list[Id] | None = Field(default=None, max_length=500)
    all: bool = False


class Settings(Strict):
    notify_deal_won: bool


class NotificationOut(BaseModel):
    id: int
    org_id: int
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationList(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = None
    unread_count: int


class MarkReadOut(BaseModel):
    updated: int
    unread_count: int
