"""Request and response models for chat."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Id = Annotated[StrictInt, Field(gt=0, lt=2**63)]
Version = Annotated[StrictInt, Field(ge=1, lt=2**31)]
Text = Annotated[str, AfterValidator(no_nul)]
ChannelName = Annotated[Text, Field(min_length=1, max_length=80)]
ClientId = Annotated[Text, Field(min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateChannel(Strict):
    kind: Literal["public", "private", "dm"] = "public"
    name: ChannelName | None = None
    member_ids: list[Id] = Field(default_factory=list, max_length=200)


class UpdateChannel(Strict):
    name: ChannelName | None = None
    archived: bool | None = None
    version: Version | None = None


class AddMembers(Strict):
    user_ids: list[Id] = Field(min_length=1, max_length=200)


class PostMessage(Strict):
    # the length limit (4,000) is checked by the service: 413 message_too_large, as on sockets
    body: str
    client_id: ClientId | None = None


class EditMessage(Strict):
    body: str
    version: Version | None = None


class MarkRead(Strict):
    message_id: Id


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
