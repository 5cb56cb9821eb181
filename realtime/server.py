"""The socket.io server: one per process, fanned out through Redis to every instance.

Connections authenticate at connect, by the browser's session cookie or an
access token in `auth: {token}`; anything else is refused. The protocol's
events live in `realtime.handlers`.
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

import orjson
import socketio
from quart import Quart

from crm.auth import sessions, tokens
from crm.config import Config
from realtime import rooms

log = logging.getLogger(__name__)


class OrjsonPacker:
    """socket.io's `json` hook: orjson both ways."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        from crm.jsonprovider import dumps

        return dumps(obj).decode()

    @staticmethod
    def loads(s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


def allowed_origins(config: Config) -> list[str]:
    return [config.base_url]


def create_socket_server(app: Quart, config: Config) -> socketio.AsyncServer:
    assert config.redis_url, "resolve the Redis URL before creating the socket server"
    manager = socketio.AsyncRedisManager(
        config.redis_url,
        channel=config.pubsub_channel,
        redis_options={"max_connections": config.redis_pool_max},
    )
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        json=OrjsonPacker,
        cors_allowed_origins=allowed_origins(config),
        ping_interval=10,
        ping_timeout=10,
        max_http_buffer_size=256 * 1024,
    )
    app.extensions["sio"] = sio
    app.extensions["event_emitter"] = make_emitter(sio, app)
    register_connect(sio, app)
    return sio


async def authenticate(app: Quart, environ: dict[str, Any], auth: Any) -> sessions.Session | None:
    """The live session behind this connection, or None."""
    db, hub = app.extensions["db"], app.extensions["redis"]
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        claims = tokens.read_access_token(app.secret_key, auth["token"])  # type: ignore[arg-type]
        if claims is None or await tokens.is_blacklisted(hub, claims.jti):
            return None
        session = await sessions.load_session(db, hub, claims.session_id)
        return session if session and session.user_id == claims.user_id else None
    cookie_header = environ.get("HTTP_COOKIE", "")
    try:
        morsel = SimpleCookie(cookie_header).get(app.config["QUART_AUTH_COOKIE_NAME"])
    except CookieError:
        return None
    if morsel is None:
        return None
    auth_ext = app.extensions["QUART_AUTH"][0]
    session_id = auth_ext.load_token(morsel.value, app=app)
    if session_id is None:
        return None
    return await sessions.load_session(db, hub, session_id)


def register_connect(sio: socketio.AsyncServer, app: Quart) -> None:
    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        session = await authenticate(app, environ, auth)
        if session is None:
            raise socketio.exceptions.ConnectionRefusedError({"code": "not_authenticated"})
        await sio.save_session(sid, {"user_id": session.user_id, "session_id": session.id, "orgs": {}})
        await sio.enter_room(sid, rooms.user_room(session.user_id))
        await sio.enter_room(sid, rooms.session_room(session.id))
        return True


def public_envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "audience"}


def event_rooms(event: dict[str, Any]) -> list[str]:
    """Where an event may go: its org's room, or the rooms of the users allowed to see it."""
    audience = event.get("audience") or {"scope": "org"}
    if audience.get("scope") == "users":
        return [rooms.user_room(int(uid)) for uid in audience.get("user_ids", [])]
    return [rooms.org_room(int(event["org"]))]


def make_emitter(sio: socketio.AsyncServer, app: Quart):  # type: ignore[no-untyped-def]
    async def emit(events: list[dict[str, Any]]) -> None:
        for event in events:
            for room in event_rooms(event):
                await sio.emit("event", public_envelope(event), room=room)
        db = app.extensions["db"]
        await db.execute(
            "UPDATE events SET published_at = now() FROM unnest(CAST(:orgs AS bigint[]), CAST(:seqs AS bigint[]))"
            " AS done(org_id, seq) WHERE events.org_id = done.org_id AND events.seq = done.seq",
            {"orgs": [e["org"] for e in events], "seqs": [e["seq"] for e in events]},
        )

    return emit
