"""Event fan-out across instances: publish through Redis, deliver each org's events in order.

Publishing (the outbox emitter, on any instance) is one Redis PUBLISH of the
committed envelopes on `<channel>:events`; only when it succeeds are the rows
marked published, so a Redis outage leaves them to the relay. (socket.io's
AsyncRedisManager would drop them silently, so events do not go through it.)

Receiving (every instance) keeps, per org with local sockets, the last seq it
delivered. A duplicate (relay and normal path both published) is dropped; a
jump (publishes overtook each other, or the subscription was down) is filled
from PostgreSQL first, because seqs are gapless in commit order. So each socket
gets every event it may see, once, in seq order, while it is connected.

Visibility is decided per event: `audience.user_ids` (users, channel members:
resolved by the publisher) go to those users' `org:{org}:user:{id}` rooms, an
org audience to the org room; anything else to nobody. `member.changed` also
updates the local sockets of that user (leave on removal, new role), and
`<channel>:control` carries session revocations to every instance.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import orjson
import redis.asyncio as aioredis
import socketio
from quart import Quart

from crm.auth import sessions
from crm.redis import RedisDown
from realtime import outbox, rooms

log = logging.getLogger(__name__)

MAX_REPLAY = 1000
SESSION_CHECK_EVERY = float(os.environ.get("TINYCRM_SESSION_CHECK_EVERY", "30"))
NAMESPACE = "/"


def public_envelope(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "audience"}


def subscriber_options(redis_url: str) -> dict[str, Any]:
    """Connection options for the long-lived subscription; keepalive exists only for TCP sockets."""
    options: dict[str, Any] = {"socket_connect_timeout": 1.0, "health_check_interval": 5}
    if not redis_url.startswith("unix://"):
        options["socket_keepalive"] = True
    return options


def visible_to(event: dict[str, Any], user_id: int) -> bool:
    audience = event.get("audience") or {"scope": "org"}
    if "user_ids" in audience:
        return user_id in {int(uid) for uid in audience["user_ids"]}
    return bool(audience.get("scope") == "org")


class EventBus:
    def __init__(self, sio: socketio.AsyncServer, app: Quart, *, redis_url: str, channel: str) -> None:
        self.sio = sio
        self.app = app
        self.redis_url = redis_url
        self.events_channel = f"{channel}:events"
        self.control_channel = f"{channel}:control"
        self.watermarks: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.subscribed = asyncio.Event()

    @property
    def db(self) -> Any:
        return self.app.extensions["db"]

    @property
    def hub(self) -> Any:
        return self.app.extensions["redis"]

    def _lock(self, org_id: int) -> asyncio.Lock:
        return self._locks.setdefault(org_id, asyncio.Lock())

    def local_sids(self, room: str) -> list[str]:
        return [sid for sid, _ in self.sio.manager.get_participants(NAMESPACE, room)]

    # -- publishing ---------------------------------------------------------------------------

    async def _publish_raw(self, channel: str, body: bytes) -> None:
        if self.hub.breaker.is_open:
            raise ConnectionError("redis is unavailable")
        try:
            await self.hub.client.publish(channel, body)
        except RedisDown as error:
            self.hub.breaker.record_failure(error)
            raise

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """The outbox emitter: announce committed events to every instance, then mark them published.

        Raises if Redis is unreachable; the events then stay unpublished for the relay.
        """
        if not events:
            return
        await self._publish_raw(self.events_channel, orjson.dumps({"events": events}))
        await outbox.mark_published(self.db, events)
        from crm.dashboard import live

        live.note_events(self.app, events)

    async def control(self, message: dict[str, Any]) -> None:
        await self._publish_raw(self.control_channel, orjson.dumps(message))

    # -- joining ------------------------------------------------------------------------------

    async def join(self, sid: str, *, org_id: int, user_id: int, role: str, after_seq: int | None) -> dict[str, Any]:
        """Put the socket in the org's rooms; the ack's `seq`, missed `events` and `resync` flag."""
        async with self._lock(org_id):
            if not self.local_sids(rooms.org_room(org_id)):
                self.watermarks[org_id] = await outbox.select_current_seq(self.db, org_id=org_id)
            mark = self.watermarks[org_id]
            await self.sio.enter_room(sid, rooms.org_room(org_id))
            await self.sio.enter_room(sid, rooms.org_user_room(org_id, user_id))
            async with self.sio.session(sid) as session:
                session.setdefault("orgs", {})[org_id] = role
            if after_seq is None or after_seq == mark:
                return {"seq": mark, "events": [], "resync": False}
            if after_seq > mark or mark - after_seq > MAX_REPLAY:
                return {"seq": mark, "events": [], "resync": True}
            oldest = await outbox.select_oldest_kept_seq(self.db, org_id=org_id)
            if oldest is None or oldest > after_seq + 1:
                return {"seq": mark, "events": [], "resync": True}
            missed = await outbox.select_events_between(self.db, org_id=org_id, after=after_seq, upto=mark)
        events = [public_envelope(e) for e in missed if visible_to(e, user_id)]
        return {"seq": mark, "events": events, "resync": False}

    async def leave(self, sid: str, org_id: int) -> None:
        """Take the socket out of the org's rooms and presence."""
        session = await self.sio.get_session(sid)
        user_id = session.get("user_id")
        await self.sio.leave_room(sid, rooms.org_room(org_id))
        if user_id is not None:
            await self.sio.leave_room(sid, rooms.org_user_room(org_id, int(user_id)))
        async with self.sio.session(sid) as stored:
            stored.get("orgs", {}).pop(org_id, None)
        presence = self.app.extensions.get("presence")
        if presence is not None:
            await presence.leave_org(sid, org_id)

    # -- receiving ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe for as long as the process lives, reconnecting (and catching up) after outages."""
        backoff = 0.1
        while True:
            client = aioredis.Redis.from_url(self.redis_url, **subscriber_options(self.redis_url))
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.events_channel, self.control_channel)
                self.subscribed.set()
                await self.catch_up()
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._handle(message)
            except RedisDown as error:
                log.warning("event subscription lost (%s); reconnecting", error)
            except Exception:
                log.exception("event subscription failed; reconnecting")
            finally:
                self.subscribed.clear()
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # the connection is already gone
                    log.debug("closing the lost subscription failed", exc_info=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _handle(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
        try:
            body = orjson.loads(message["data"])
            if channel == self.events_channel:
                for event in body["events"]:
                    await self.dispatch(event)
            elif channel == self.control_channel:
                await self.apply_control(body)
        except RedisDown:
            raise
        except Exception:  # one bad message must not stop delivery; a later one fills any gap
            log.exception("handling a message on %s failed", channel)

    async def dispatch(self, event: dict[str, Any]) -> None:
        org_id, seq = int(event["org"]), int(event["seq"])
        async with self._lock(org_id):
            mark = self.watermarks.get(org_id)
            if mark is None or seq <= mark:
                return
            if not self.local_sids(rooms.org_room(org_id)):
                self.watermarks[org_id] = seq
                return
            if seq > mark + 1:
                for missed in await outbox.select_events_between(self.db, org_id=org_id, after=mark, upto=seq - 1):
                    await self._emit(missed)
                    self.watermarks[org_id] = int(missed["seq"])
            await self._emit(event)
            self.watermarks[org_id] = seq

    async def catch_up(self) -> None:
        """After (re)subscribing: deliver what was committed while this instance was not listening."""
        for org_id in list(self.watermarks):
            async with self._lock(org_id):
                if not self.local_sids(rooms.org_room(org_id)):
                    del self.watermarks[org_id]
                    continue
                mark = self.watermarks[org_id]
                current = await outbox.select_current_seq(self.db, org_id=org_id)
                for missed in await outbox.select_events_between(self.db, org_id=org_id, after=mark, upto=current):
                    await self._emit(missed)
                    self.watermarks[org_id] = int(missed["seq"])

    async def _emit(self, event: dict[str, Any]) -> None:
        org_id = int(event["org"])
        envelope = public_envelope(event)
        audience = event.get("audience") or {"scope": "org"}
        if "user_ids" in audience:
            for user_id in audience["user_ids"]:
                room = rooms.org_user_room(org_id, int(user_id))
                await self.sio.emit("event", envelope, room=room, ignore_queue=True)
        elif audience.get("scope") == "org":
            await self.sio.emit("event", envelope, room=rooms.org_room(org_id), ignore_queue=True)
        if event["type"] == "member.changed":
            await self._apply_member_change(org_id, event.get("data") or {})

    async def _apply_member_change(self, org_id: int, data: dict[str, Any]) -> None:
        if data.get("user_id") is None:
            return
        for sid in self.local_sids(rooms.org_user_room(org_id, int(data["user_id"]))):
            if data.get("change") == "removed":
                await self.leave(sid, org_id)
            elif data.get("role"):
                async with self.sio.session(sid) as session:
                    if org_id in session.get("orgs", {}):
                        session["orgs"][org_id] = data["role"]

    # -- control ------------------------------------------------------------------------------

    async def apply_control(self, body: dict[str, Any]) -> None:
        if body.get("kind") == "revoke":
            for session_id in body.get("session_ids", []):
                await self.revoke_local(str(session_id))

    async def revoke_local(self, session_id: str) -> None:
        for sid in self.local_sids(rooms.session_room(session_id)):
            await self.sio.emit("session:revoked", {"session_id": session_id}, to=sid, ignore_queue=True)
            await self.sio.disconnect(sid, ignore_queue=True)

    async def check_sessions(self) -> None:
        """Disconnect local sockets whose session ended while no revocation reached us (Redis was down)."""
        prefix = rooms.session_room("")
        room_names = [r for r in self.sio.manager.rooms.get(NAMESPACE, {}) if isinstance(r, str)]
        for room in room_names:
            if not room.startswith(prefix) or not self.local_sids(room):
                continue
            session_id = room[len(prefix) :]
            if await sessions.load_session(self.db, self.hub, session_id) is None:
                await self.revoke_local(session_id)

    async def run_session_checks(self) -> None:
        while True:
            await asyncio.sleep(SESSION_CHECK_EVERY)
            try:
                await self.check_sessions()
            except Exception:
                log.exception("checking sessions of open sockets failed")
