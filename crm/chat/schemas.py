"""Request and response models for chat."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ClientId = Field(default=None, min_length=1, max_length=100)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateChannel(Strict):
    kind: Literal["public", "private", "dm"] = "public"
    name: str | None = Field(default=None, min_length=1, max_length=80)
    member_ids: list[int] = Field(default_factory=list, max_length=200)


class UpdateChannel(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    archived: bool | None = None
    version: int | None = None


class AddMembers(Strict):
    user_ids: list[int] = Field(min_length=1, max_length=200)


class PostMessage(Strict):
    # the length limit (4,000) is checked by the service: 413 message_too_large, as on sockets
    body: str
    client_id: str | None = ClientId


class EditMessage(Strict):
    body: str
    version: int | None = None


class MarkRead(Strict):
    message_id: int = Field(gt=0, lt=2**63)


class ChannelOut(BaseModel):
    id: int
    kind: str
    name: str | None
    deal_id: int | None
    created_by: int | None
    archived: bool
    member_ids: list[int]
    last_read_message_id: int | None
    last_message_id: int | None
    unread_count: int
    created_at: datetime
    updated_at: datetime
    version: int


class ChannelList(BaseModel):
    items: list[ChannelOut]
    next_cursor: str | None = None


class MessageOut(BaseModel):
    id: int
    channel_id: int
    author_id: int | None
    body: str
    client_id: str | None
    mentions: list[int]
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    version: int


class MessageList(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None = None


class ReadOut(BaseModel):
    channel_id: int
    user_id: int
    last_read_message_id: int
    unread_count: int
