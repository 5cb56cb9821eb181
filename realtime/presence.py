"""Who is looking at what: presence per org and topic, in Redis, with heartbeat expiry.

Each topic is a sorted set `tc:pres:{org}:{topic}` of `{user_id}:{sid}` scored by
the entry's expiry time. Every instance refreshes its own sockets' entries each
HEARTBEAT seconds; an instance that dies stops refreshing, and any instance's
sweep removes the stale entries and broadcasts the new list. Only commands that
Redis 6.2 has are used (ZADD, ZRANGEBYSCORE, ZREMRANGEBYSCORE). When Redis is
down, presence is empty and nothing fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from quart import Quart

from realtime import rooms

log = logging.getLogger(__name__)

TTL = float(os.environ.get("TINYCRM_PRESENCE_TTL", "15"))
HEARTBEAT = TTL / 3
SWEEP_EVERY = min(1.0, TTL / 3)
INDEX_KEY = "tc:pres:index"
TOPIC_PATTERN = re.compile(r"^(board|deal:[1-9][0-9]{0,17}|channel:[1-9][0-9]{0,17})$")

# Extra checks per topic kind, e.g. chat registers "channel": may this user see that channel?
# check(org_scope, object_id) -> bool, run inside the app context.
TopicCheck = Callable[[Any, int], Awaitable[bool]]
topic_checks: dict[str, TopicCheck] = {}


def register_topic_check(kind: str, check: TopicCheck) -> None:
    topic_checks[kind] = check


def topic_key(org_id: int, topic: str) -> str:
    return f"tc:pres:{org_id}:{topic}"


def valid_topic(topic: str) -> bool:
    return bool(TOPIC_PATTERN.match(topic)) and int(topic.partition(":")[2] or 1) < 2**63


async def may_enter(scope: Any, topic: str) -> bool:
    kind, _, raw_id = topic.partition(":")
    check = topic_checks.get(kind)
    return True if check is None else await check(scope, int(raw_id))


class Presence:
    def __init__(self, sio: socketio.AsyncServer, app: Quart) -> None:
        self.sio = sio
        self.app = app
        # this instance's sockets: sid -> {(org_id, topic, user_id)}
        self.local: dict[str, set[tuple[int, str, int]]] = {}

    @property
    def hub(self) -> Any:
        return self.app.extensions["redis"]

    async def users(self, org_id: int, topic: str) -> list[dict[str, Any]]:
        """The users present on a topic, by name ([] when Redis is down)."""
        now = time.time()
        members = await self.hub.guarded(lambda c: c.zrangebyscore(topic_key(org_id, topic), now, "+inf"), [])
        user_ids = sorted({int(m.split(b":", 1)[0]) for m in members})
        if not user_ids:
            return []
        rows = await self.app.extensions["db"].fetch_all(
            "SELECT id, name FROM users WHERE id = ANY(:ids) ORDER BY name, id", {"ids": user_ids}
        )
        return [{"id": row["id"], "name": row["name"]} for row in rows]

    async def broadcast(self, org_id: int, topic: str) -> list[dict[str, Any]]:
        users = await self.users(org_id, topic)
        payload = {"org": org_id, "topic": topic, "users": users}
        try:
            await self.sio.emit("presence", payload, room=rooms.org_room(org_id))
        except Exception:  # presence is best effort; the next change or sweep sends it again
            log.warning("broadcasting presence of %s/%s failed", org_id, topic, exc_info=True)
        return users

    async def enter(self, sid: str, *, org_id: int, user_id: int, topic: str) -> list[dict[str, Any]]:
        member = f"{user_id}:{sid}"
        expires = time.time() + TTL

        async def add(client: Any) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.zadd(topic_key(org_id, topic), {member: expires})
                pipe.expire(topic_key(org_id, topic), int(TTL * 4) + 1)
                pipe.sadd(INDEX_KEY, f"{org_id}|{topic}")
                await pipe.execute()

        await self.hub.guarded(add, None)
        self.local.setdefault(sid, set()).add((org_id, topic, user_id))
        return await self.broadcast(org_id, topic)

    async def leave(self, sid: str, *, org_id: int, user_id: int, topic: str) -> list[dict[str, Any]]:
        await self.hub.guarded(lambda c: c.zrem(topic_key(org_id, topic), f"{user_id}:{sid}"), 0)
        self.local.get(sid, set()).discard((org_id, topic, user_id))
        return await self.broadcast(org_id, topic)

    async def leave_org(self, sid: str, org_id: int) -> None:
        for entry_org, topic, user_id in list(self.local.get(sid, ())):
            if entry_org == org_id:
                await self.leave(sid, org_id=org_id, user_id=user_id, topic=topic)

    async def disconnected(self, sid: str) -> None:
        for org_id, topic, user_id in list(self.local.get(sid, ())):
            await self.leave(sid, org_id=org_id, user_id=user_id, topic=topic)
        self.local.pop(sid, None)

    async def heartbeat(self) -> None:
        """Push this instance's entries' expiry forward; re-announce topics where one had lapsed.

        An entry lapses when this process stalled past the TTL (or Redis lost it): another
        instance may then have swept it and broadcast a list without this user, so the
        topic is broadcast again once the entry is back.
        """
        entries = [(sid, entry) for sid, held in self.local.items() for entry in held]
        if not entries:
            return
        now = time.time()
        expires = now + TTL

        async def refresh(client: Any) -> list[Any]:
            async with client.pipeline(transaction=False) as pipe:
                for sid, (org_id, topic, user_id) in entries:
                    pipe.zscore(topic_key(org_id, topic), f"{user_id}:{sid}")
                    pipe.zadd(topic_key(org_id, topic), {f"{user_id}:{sid}": expires})
                    pipe.expire(topic_key(org_id, topic), int(TTL * 4) + 1)
                    pipe.sadd(INDEX_KEY, f"{org_id}|{topic}")
                return list(await pipe.execute())

        results = await self.hub.guarded(refresh, None)
        if results is None:
            return
        lapsed: set[tuple[int, str]] = set()
        for (sid, entry), score in zip(entries, results[::4], strict=True):
            org_id, topic, user_id = entry
            if entry not in self.local.get(sid, ()):  # left while the refresh ran: do not resurrect it
                await self.hub.guarded(lambda c, k=topic_key(org_id, topic), m=f"{user_id}:{sid}": c.zrem(k, m), 0)
            elif score is None or float(score) <= now:
                lapsed.add((org_id, topic))
        for org_id, topic in sorted(lapsed):
            await self.broadcast(org_id, topic)

    async def sweep(self) -> None:
        """Drop expired entries (a dead instance's users) and broadcast the topics that changed."""
        topics = await self.hub.guarded(lambda c: c.smembers(INDEX_KEY), set())
        now = time.time()
        for raw in topics:
            org_part, _, topic = raw.decode().partition("|")
            key = topic_key(int(org_part), topic)
            removed = await self.hub.guarded(lambda c, key=key: c.zremrangebyscore(key, "-inf", now), 0)
            if removed:
                await self.broadcast(int(org_part), topic)
            if not await self.hub.guarded(lambda c, key=key: c.exists(key), 1):
                await self.hub.guarded(lambda c, raw=raw: c.srem(INDEX_KEY, raw), 0)

    async def run(self) -> None:
        last_beat = 0.0
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                if time.monotonic() - last_beat >= HEARTBEAT:
                    last_beat = time.monotonic()
                    await self.heartbeat()
                await self.sweep()
            except Exception:
                log.exception("presence upkeep failed")
