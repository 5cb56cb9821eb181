"""Chat's client events: `chat:send`, `chat:typing`, `chat:read` (DESIGN.md, Realtime protocol).

Each checks, on every event, that the user is a member of the org and can see
the channel (a private channel or DM they are not in is `channel_not_found`,
as over REST), then calls the same service as the REST API. `chat.typing` is
ephemeral: emitted straight to the channel's audience (`seq: null`, never
stored or replayed); everything else goes through the outbox.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import socketio
from pydantic import AfterValidator, Field, StrictStr
from quart import Quart

from crm.chat import events, service
from crm.chat.schemas import MessageOut, no_nul
from crm.db import get_db
from realtime import rooms
from realtime.presence import register_topic_check
from realtime.protocol import OrgRef, Payload, PositiveId, SocketContext, SocketError, on

# room for a 4,000-character message of 4-byte characters, JSON-escaped; longer ones get message_too_large
MAX_SEND_BYTES = 64 * 1024
ClientId = Annotated[StrictStr, Field(min_length=1, max_length=100), AfterValidator(no_nul)]


class ChatSend(Payload):
    org: OrgRef
    channel: PositiveId
    body: StrictStr
    client_id: ClientId


class ChatTyping(Payload):
    org: OrgRef
    channel: PositiveId


class ChatRead(Payload):
    org: OrgRef
    channel: PositiveId
    message_id: PositiveId


def typing_envelope(org_id: int, user_id: int, channel_id: int) -> dict[str, Any]:
    return {
        "type": "chat.typing",
        "org": org_id,
        "seq": None,
        "id": str(uuid.uuid4()),
        "at": datetime.now(UTC).isoformat(),
        "actor": user_id,
        "data": events.typing(channel_id, user_id),
    }


def audience_rooms(org_id: int, audience: dict[str, Any]) -> list[str]:
    """The rooms of the sockets (on every instance) that may see an event with this audience."""
    if "user_ids" in audience:
        return [rooms.org_user_room(org_id, int(uid)) for uid in audience["user_ids"]]
    return [rooms.org_room(org_id)]


async def may_see_channel(scope: Any, channel_id: int) -> bool:
    """Presence check for `channel:<id>` topics."""
    return await service.can_see_channel(get_db(), org_id=scope.id, user_id=scope.user_id, channel_id=channel_id)


def register(sio: socketio.AsyncServer, app: Quart) -> None:
    """Install chat's client events on this server."""
    register_topic_check("channel", may_see_channel)

    @on(sio, app, "chat:send", ChatSend, max_bytes=MAX_SEND_BYTES)
    async def send(ctx: SocketContext, data: ChatSend) -> dict[str, Any]:
        org = await ctx.member_org(data.org)
        if not org.can_write:
            raise SocketError("read_only", "Viewers cannot send messages.")
        message, created = await service.post_message(
            get_db(), org=org, channel_id=data.channel, body=data.body, client_id=data.client_id
        )
        # shaped as the REST API answers (pydantic: datetimes in UTC with "Z"), equal to the event's copy
        return {"message": MessageOut.model_validate(message).model_dump(mode="json"), "created": created}

    @on(sio, app, "chat:typing", ChatTyping)
    async def typing(ctx: SocketContext, data: ChatTyping) -> dict[str, Any]:
        org = await ctx.member_org(data.org)
        audience = await service.typing_audience(get_db(), org=org, channel_id=data.channel)
        envelope = typing_envelope(org.id, ctx.user_id, data.channel)
        for room in audience_rooms(org.id, audience):
            # through the Redis manager: typing reaches sockets on every instance, but not the typist's own
            await sio.emit("event", envelope, room=room, skip_sid=ctx.sid)
        return {}

    @on(sio, app, "chat:read", ChatRead)
    async def read(ctx: SocketContext, data: ChatRead) -> dict[str, Any]:
        org = await ctx.member_org(data.org)
        position = await service.mark_read(get_db(), org=org, channel_id=data.channel, message_id=data.message_id)
        return {"read": position}
