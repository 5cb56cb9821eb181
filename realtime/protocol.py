"""The plumbing every socket.io event handler shares: acks, validation, limits, app context.

A feature registers its client events with `on`; the wrapper checks that the
socket is authenticated, bounds the payload's size, rate-limits the user (in
Redis, across instances), validates the payload with a pydantic model, runs the
handler inside the Quart app context (so `write_transaction`, `get_db()` and
service functions work) and turns the result into the ack:

    class Send(Payload):
        org: OrgRef
        channel: PositiveId
        body: str

    def register(sio, app):
        @on(sio, app, "chat:send", Send, max_bytes=32 * 1024)
        async def send(ctx: SocketContext, data: Send) -> dict:
            org = await ctx.joined_org(data.org)   # member and joined, else SocketError not_found
            ...
            return {"message": message}           # the ack: {"ok": true, "message": {...}}

Errors (`SocketError`, `crm.errors.APIError`, validation) become
`{"ok": false, "error": {"code", "message", "fields"?}}`; nothing a client sends
can crash the server or another user's connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
import socketio
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from quart import Quart

from crm.errors import APIError
from crm.redis import RedisHub

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 16 * 1024


def _rate_from_env() -> tuple[int, int]:
    raw = os.environ.get("TINYCRM_SOCKET_RATE", "120/10")  # events per user per window (seconds)
    count, _, window = raw.partition("/")
    return int(count), int(window or 10)


SOCKET_RATE = _rate_from_env()
# Past this many times the limit in one window the socket is disconnected, not just refused.
HARD_LIMIT_FACTOR = 3

PositiveId = Annotated[StrictInt, Field(gt=0, lt=2**63)]
# An org by slug or id, as in URLs.
OrgRef = Annotated[StrictStr, Field(min_length=1, max_length=64)] | PositiveId
SeqNumber = Annotated[StrictInt, Field(ge=0, lt=2**63)]


class Payload(BaseModel):
    """Base of every client event's payload: unknown keys are ignored, types are strict."""

    model_config = ConfigDict(extra="ignore", frozen=True)


P = TypeVar("P", bound=Payload)


class SocketError(Exception):
    """Raise in a handler to answer with an error ack."""

    def __init__(self, code: str, message: str = "", *, fields: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or code.replace("_", " ").capitalize() + "."
        self.fields = fields


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def error(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"ok": False, "error": body}


@dataclass
class SocketContext:
    """Who sent the event and the tools to answer it."""

    sio: socketio.AsyncServer
    app: Quart
    sid: str
    user_id: int
    session_id: str

    async def joined_orgs(self) -> dict[int, str]:
        """Org id -> the user's role, for the orgs this socket joined (kept fresh on role changes)."""
        session = await self.sio.get_session(self.sid)
        return dict(session.get("orgs", {}))

    async def member_org(self, org_ref: str | int) -> Any:
        """The caller's `OrgScope` in that org, or SocketError not_found (never 403 across orgs)."""
        from crm.tenancy.scope import select_membership

        scope = await select_membership(str(org_ref), self.user_id)
        if scope is None:
            raise SocketError("not_found", "No such organisation.")
        return scope

    async def joined_org(self, org_ref: str | int) -> Any:
        """Like `member_org`, and the socket must have joined it with `org:join`."""
        scope = await self.member_org(org_ref)
        if scope.id not in await self.joined_orgs():
            raise SocketError("not_joined", "Join the organisation first.")
        return scope


Handler = Callable[[SocketContext, Any], Awaitable[dict[str, Any] | None]]


async def hit_rate_limit(hub: RedisHub, user_id: int) -> int:
    """Count one event for this user in the current window; the count so far (0 if Redis is down)."""
    _, window = SOCKET_RATE
    key = f"tc:rl:sock:{user_id}:{int(time.time() // window)}"

    async def incr(client: Any) -> int:
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, window + 1)
            count, _ = await pipe.execute()
        return int(count)

    return await hub.guarded(incr, 0)


async def _admit(sio: socketio.AsyncServer, app: Quart, sid: str) -> SocketContext | dict[str, Any]:
    """The sender's context, or the error ack to answer with (unauthenticated, flooding)."""
    try:
        session = await sio.get_session(sid)
    except KeyError:
        session = {}
    if not session.get("user_id"):
        return error("not_authenticated", "Sign in to continue.")
    count = await hit_rate_limit(app.extensions["redis"], session["user_id"])
    limit, _ = SOCKET_RATE
    if count > limit * HARD_LIMIT_FACTOR:
        log.warning("disconnecting socket %s of user %s: event flood", sid, session["user_id"])
        sio.start_background_task(sio.disconnect, sid)
        return error("rate_limited", "Too many events; disconnected.")
    if count > limit:
        return error("rate_limited", "Too many events. Slow down.")
    return SocketContext(sio, app, sid, int(session["user_id"]), str(session["session_id"]))


def handler_slots(app: Quart) -> asyncio.Semaphore:
    """Bounds concurrent socket work so a burst of connects or events queues here instead of
    exhausting the shared Redis pool (redis-py raises "Too many connections" past its size)."""
    slots = app.extensions.get("socket_handler_slots")
    if slots is None:
        size = max(4, app.config["TINYCRM"].redis_pool_max // 2)
        slots = app.extensions["socket_handler_slots"] = asyncio.Semaphore(size)
    return slots


def _validation_fields(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for problem in exc.errors():
        name = ".".join(str(part) for part in problem["loc"]) or "payload"
        fields.setdefault(name, problem["msg"])
    return fields


async def dispatch(
    sio: socketio.AsyncServer,
    app: Quart,
    sid: str,
    args: tuple[Any, ...],
    payload: type[Payload] | None,
    max_bytes: int,
    handler: Handler,
) -> dict[str, Any]:
    async with handler_slots(app):
        return await _dispatch(sio, app, sid, args, payload, max_bytes, handler)


async def _dispatch(
    sio: socketio.AsyncServer,
    app: Quart,
    sid: str,
    args: tuple[Any, ...],
    payload: type[Payload] | None,
    max_bytes: int,
    handler: Handler,
) -> dict[str, Any]:
    admitted = await _admit(sio, app, sid)
    if not isinstance(admitted, SocketContext):
        return admitted
    if len(args) > 1:
        return error("bad_request", "Send one payload object.")
    raw = args[0] if args else None
    try:
        size = len(orjson.dumps(raw))
    except (TypeError, orjson.JSONEncodeError):
        return error("bad_request", "The payload could not be understood.")
    if size > max_bytes:
        return error("payload_too_large", f"Payloads are limited to {max_bytes} bytes.")
    data: Any = None
    if payload is not None:
        if not isinstance(raw, dict):
            return error("validation_error", "The payload must be an object.")
        try:
            data = payload.model_validate(raw)
        except ValidationError as exc:
            return error("validation_error", "Some fields are invalid.", _validation_fields(exc))
    try:
        async with app.app_context():
            result = await handler(admitted, data)
    except SocketError as exc:
        return error(exc.code, exc.message, exc.fields)
    except APIError as exc:
        return error(exc.code, exc.message, exc.fields)
    except Exception:
        log.exception("socket handler failed for user %s", admitted.user_id)
        return error("internal_error", "Something went wrong; try again.")
    return ok(**(result or {}))


def on(
    sio: socketio.AsyncServer,
    app: Quart,
    event: str,
    payload: type[P] | None = None,
    *,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> Callable[[Callable[[SocketContext, P], Awaitable[dict[str, Any] | None]]], Handler]:
    """Register `handler(ctx, data)` for a client event; its dict result becomes the ok ack."""

    def decorator(handler: Callable[[SocketContext, P], Awaitable[dict[str, Any] | None]]) -> Handler:
        async def entry(sid: str, *args: Any) -> dict[str, Any]:
            return await dispatch(sio, app, sid, args, payload, max_bytes, handler)

        sio.on(event, entry)
        return handler

    return decorator


def register_fallback(sio: socketio.AsyncServer, app: Quart) -> None:
    """Unknown events get an error ack (and count against the sender's rate limit)."""

    async def unknown(event: str, sid: str, *args: Any) -> dict[str, Any]:
        async with handler_slots(app):
            admitted = await _admit(sio, app, sid)
        if not isinstance(admitted, SocketContext):
            return admitted
        return error("unknown_event", f"Unknown event {str(event)[:64]!r}.")

    sio.on("*", unknown)
