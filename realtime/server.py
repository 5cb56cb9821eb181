"""The socket.io server: one per process, fanned out through Redis to every instance.

Connections authenticate at connect, by the browser's session cookie or an
access token in `auth: {token}`; anything else is refused. The protocol's
events live in `realtime.handlers`; domain events travel through
`realtime.bus` (not the socket.io manager, which drops emits while Redis is
down), presence and socket.io's own broadcasts through the AsyncRedisManager.
"""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import orjson
import socketio
from quart import Quart

from crm.auth import sessions, tokens
from crm.config import Config
from realtime import handlers, relay, rooms
from realtime.bus import EventBus
from realtime.presence import Presence
from realtime.protocol import handler_slots

log = logging.getLogger(__name__)

# engine.io refuses (and disconnects) anything larger; handlers bound their payloads further.
MAX_MESSAGE_BYTES = 256 * 1024
GC_THRESHOLD = 50_000


class OrjsonPacker:
    """socket.io's `json` hook: orjson both ways."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        from crm.jsonprovider import dumps

        return dumps(obj).decode()

    @staticmethod
    def loads(s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def allowed_origins(config: Config) -> list[str]:
    """Browsers may connect only from the app's own origin (BASE_URL's scheme, host and port).

    A loopback BASE_URL (local use) also accepts the other spellings of loopback on the same
    port: they name the same server, and a browser at 127.0.0.1 must not lose live updates
    because BASE_URL says localhost."""
    parts = urlsplit(config.base_url)
    origins = [f"{parts.scheme}://{parts.netloc}"]
    if parts.hostname in ("localhost", "127.0.0.1", "::1"):
        port = f":{parts.port}" if parts.port else ""
        origins += [f"{parts.scheme}://{name}{port}" for name in LOOPBACK_NAMES if f"{name}{port}" != parts.netloc]
    return origins


def client_ip(environ: dict[str, Any], trusted_proxies: tuple[str, ...]) -> str | None:
    """The client's address from the ASGI scope, honouring X-Forwarded-For only from trusted proxies."""
    scope = environ.get("asgi.scope") or {}
    remote = (scope.get("client") or (None,))[0]
    if not trusted_proxies or not remote:
        return remote
    chain = [p.strip() for p in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    hops = [*chain, remote]
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
    for hop in reversed(hops):  # the first untrusted hop from our side is the client
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:64]
        if not any(address in net for net in networks):
            return hop
    return hops[0]


def create_socket_server(app: Quart, config: Config) -> socketio.AsyncServer:
    assert config.redis_url, "resolve the Redis URL before creating the socket server"
    manager = socketio.AsyncRedisManager(
        config.redis_url,
        channel=config.pubsub_channel,
        redis_options={"max_connections": config.redis_pool_max, "health_check_interval": 30},
    )
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        json=OrjsonPacker,
        cors_allowed_origins=allowed_origins(config),
        ping_interval=10,
        ping_timeout=10,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
    )
    bus = EventBus(sio, app, redis_url=config.redis_url, channel=config.pubsub_channel)
    app.extensions["sio"] = sio
    app.extensions["event_bus"] = bus
    app.extensions["event_emitter"] = bus.publish
    app.extensions["realtime_control"] = bus.control
    app.extensions["presence"] = Presence(sio, app)
    register_connect(sio, app, config)
    handlers.register(sio, app)
    app.extensions.setdefault("tinycrm_startup", []).append(start_background)
    app.extensions.setdefault("tinycrm_shutdown", []).append(stop_background)
    return sio


async def start_background(app: Quart) -> None:
    """Start this instance's realtime tasks, then tune the GC for fan-out."""
    bus: EventBus = app.extensions["event_bus"]
    tasks = [
        asyncio.create_task(bus.run(), name="realtime-bus"),
        asyncio.create_task(bus.run_session_checks(), name="realtime-sessions"),
        asyncio.create_task(app.extensions["presence"].run(), name="realtime-presence"),
        asyncio.create_task(relay.run(app), name="realtime-relay"),
    ]
    app.extensions["realtime_tasks"] = tasks
    try:
        await asyncio.wait_for(bus.subscribed.wait(), timeout=5)
    except TimeoutError:
        log.warning("event subscription not ready at start-up; the relay and catch-up will cover it")
    # Start-up objects live for the process: freeze them out of the collector and collect
    # less often, which keeps fan-out latency flat (NOTES.md: p99 297 -> 99 ms).
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)


async def stop_background(app: Quart) -> None:
    tasks = app.extensions.pop("realtime_tasks", [])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


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


def register_connect(sio: socketio.AsyncServer, app: Quart, config: Config) -> None:
    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        ip = client_ip(environ, config.trusted_proxies)
        try:
            async with handler_slots(app):
                session = await authenticate(app, environ, auth)
        except Exception:  # a backing service failed: refuse rather than crash the handshake
            log.exception("authenticating a socket from %s failed", ip)
            session = None
        if session is None:
            log.info("refused socket from %s: not authenticated", ip)
            raise socketio.exceptions.ConnectionRefusedError({"code": "not_authenticated"})
        await sio.save_session(sid, {"user_id": session.user_id, "session_id": session.id, "orgs": {}, "ip": ip})
        await sio.enter_room(sid, rooms.user_room(session.user_id))
        await sio.enter_room(sid, rooms.session_room(session.id))
        return True
