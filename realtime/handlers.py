"""The protocol's client events (DESIGN.md, Realtime protocol): orgs and presence.

`register(sio, app)` installs them, plus the unknown-event fallback and the
disconnect cleanup. Other features add their events with `realtime.protocol.on`
(chat: `realtime.chat_handlers.register(sio, app)`).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import socketio
from quart import Quart

from realtime.bus import EventBus
from realtime.presence import Presence, may_enter, valid_topic
from realtime.protocol import (
    OrgRef,
    Payload,
    SeqNumber,
    SocketContext,
    SocketError,
    on,
    register_fallback,
)

log = logging.getLogger(__name__)

# Feature modules with their own `register(sio, app)`, installed when present.
EXTRA_HANDLERS = ["realtime.chat_handlers"]


class JoinOrg(Payload):
    org: OrgRef
    after_seq: SeqNumber | None = None


class LeaveOrg(Payload):
    org: OrgRef


class PresenceTopic(Payload):
    org: OrgRef
    topic: str


def _bus(app: Quart) -> EventBus:
    bus: EventBus = app.extensions["event_bus"]
    return bus


def _presence(app: Quart) -> Presence:
    presence: Presence = app.extensions["presence"]
    return presence


async def _joined_topic(ctx: SocketContext, data: PresenceTopic) -> Any:
    if len(data.topic) > 64 or not valid_topic(data.topic):
        raise SocketError("validation_error", "Unknown topic.", fields={"topic": "board, deal:<id> or channel:<id>"})
    scope = await ctx.joined_org(data.org)
    return scope


def register(sio: socketio.AsyncServer, app: Quart) -> None:
    """Install the protocol's handlers on this server."""

    @on(sio, app, "org:join", JoinOrg)
    async def join_org(ctx: SocketContext, data: JoinOrg) -> dict[str, Any]:
        scope = await ctx.member_org(data.org)
        result = await _bus(app).join(
            ctx.sid, org_id=scope.id, user_id=ctx.user_id, role=scope.role, after_seq=data.after_seq
        )
        return {"org": scope.id, "slug": scope.slug, "role": scope.role, **result}

    @on(sio, app, "org:leave", LeaveOrg)
    async def leave_org(ctx: SocketContext, data: LeaveOrg) -> dict[str, Any]:
        joined = await ctx.joined_orgs()
        org_id = data.org if isinstance(data.org, int) else None
        if org_id is None:
            org_id = (await ctx.member_org(data.org)).id
        if org_id not in joined:
            raise SocketError("not_found", "No such organisation.")
        await _bus(app).leave(ctx.sid, org_id)
        return {"org": org_id}

    @on(sio, app, "presence:enter", PresenceTopic)
    async def presence_enter(ctx: SocketContext, data: PresenceTopic) -> dict[str, Any]:
        scope = await _joined_topic(ctx, data)
        if not await may_enter(scope, data.topic):
            raise SocketError("not_found", "No such topic.")
        users = await _presence(app).enter(ctx.sid, org_id=scope.id, user_id=ctx.user_id, topic=data.topic)
        return {"org": scope.id, "topic": data.topic, "users": users}

    @on(sio, app, "presence:leave", PresenceTopic)
    async def presence_leave(ctx: SocketContext, data: PresenceTopic) -> dict[str, Any]:
        scope = await _joined_topic(ctx, data)
        users = await _presence(app).leave(ctx.sid, org_id=scope.id, user_id=ctx.user_id, topic=data.topic)
        return {"org": scope.id, "topic": data.topic, "users": users}

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        try:
            await _presence(app).disconnected(sid)
        except Exception:
            log.exception("presence cleanup for %s failed", sid)

    register_fallback(sio, app)
    for name in EXTRA_HANDLERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(sio, app)
