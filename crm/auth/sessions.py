"""The session registry: `tc:sess:{id}` in Redis, shared by every instance, with
PostgreSQL's `user_sessions` as the durable copy it is rebuilt from.

A cookie or an access token names a session id; a request is authenticated only
while that session is live: not revoked, used within its idle timeout (sliding),
and younger than its absolute lifetime. Redis is the fast path (one HGETALL);
when Redis is down or has lost the key, PostgreSQL answers and the key is filled again.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from databases import Database

from crm.redis import RedisHub
from realtime import publish

# Redis copy lives at most this long without a look at PostgreSQL, which bounds how long a
# revocation made while Redis was unreachable can go unseen once it is back.
REGISTRY_TTL = 300
LAST_SEEN_WRITE_EVERY = 60
ABSOLUTE_LIFETIME = 30 * 24 * 3600


def session_key(session_id: str) -> str:
    return f"tc:sess:{session_id}"


def user_sessions_key(user_id: int) -> str:
    return f"tc:usess:{user_id}"


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    created_at: float
    last_seen_at: float
    expires_at: float
    ip: str | None
    user_agent: str | None
    idle_ttl: int = 14 * 24 * 3600

    def live_until(self) -> float:
        """When the session dies if it is not used again."""
        return min(self.expires_at, self.last_seen_at + self.idle_ttl)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _registry_fields(session: Session) -> dict[str, str]:
    return {
        "user_id": str(session.user_id),
        "created": repr(session.created_at),
        "last_seen": repr(session.last_seen_at),
        "expires": repr(session.expires_at),
        "idle": str(session.idle_ttl),
        "ip": session.ip or "",
        "ua": session.user_agent or "",
    }


def from_registry(session_id: str, raw: dict[Any, Any]) -> Session | None:
    """The session a registry hash describes, or None for a revoked tombstone or a broken entry."""
    fields = {_text(k): _text(v) for k, v in raw.items()}
    if "revoked" in fields or "user_id" not in fields:
        return None
    return Session(
        id=session_id,
        user_id=int(fields["user_id"]),
        created_at=float(fields["created"]),
        last_seen_at=float(fields["last_seen"]),
        expires_at=float(fields["expires"]),
        ip=fields.get("ip") or None,
        user_agent=fields.get("ua") or None,
        idle_ttl=int(fields.get("idle") or 14 * 24 * 3600),
    )


async def _cache(hub: RedisHub, session: Session) -> None:
    async def write(client: Any) -> None:
        ttl = max(1, min(REGISTRY_TTL, int(session.live_until() - time.time())))
        async with client.pipeline(transaction=True) as pipe:
            # HSET never removes a `revoked` tombstone a concurrent revocation left there
            pipe.hset(session_key(session.id), mapping=_registry_fields(session))
            pipe.expire(session_key(session.id), ttl)
            pipe.sadd(user_sessions_key(session.user_id), session.id)
            pipe.expire(user_sessions_key(session.user_id), ABSOLUTE_LIFETIME + 24 * 3600)
            await pipe.execute()

    await hub.guarded(write, None)


async def create_session(
    db: Database,
    hub: RedisHub,
    *,
    user_id: int,
    ip: str | None,
    user_agent: str | None,
    idle_ttl: int,
    lifetime: int = ABSOLUTE_LIFETIME,
) -> Session:
    """A new live session: idle for at most `idle_ttl` seconds, alive at most `lifetime`."""
    now = time.time()
    session = Session(
        id=secrets.token_urlsafe(24),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
        idle_ttl=min(idle_ttl, lifetime),
    )
    await db.execute(
        "INSERT INTO user_sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, idle_ttl)"
        " VALUES (:id, :user_id, to_timestamp(:now), to_timestamp(:now), to_timestamp(:expires), :ip, :ua, :idle)",
        {
            "id": session.id,
            "user_id": user_id,
            "now": now,
            "expires": session.expires_at,
            "ip": ip,
            "ua": session.user_agent,
            "idle": session.idle_ttl,
        },
    )
    await _cache(hub, session)
    return session


async def _select_session(db: Database, session_id: str) -> Session | None:
    row = await db.fetch_one(
        "SELECT id, user_id, extract(epoch FROM created_at) AS created,"
        " extract(epoch FROM last_seen_at) AS last_seen, extract(epoch FROM expires_at) AS expires,"
        " ip, user_agent, idle_ttl FROM user_sessions"
        " WHERE id = :id AND revoked_at IS NULL AND expires_at > now()",
        {"id": session_id},
    )
    if row is None:
        return None
    return Session(
        id=row["id"],
        user_id=row["user_id"],
        created_at=float(row["created"]),
        last_seen_at=float(row["last_seen"]),
        expires_at=float(row["expires"]),
        ip=row["ip"],
        user_agent=row["user_agent"],
        idle_ttl=int(row["idle_ttl"]),
    )


async def load_session(db: Database, hub: RedisHub, session_id: str) -> Session | None:
    """The live session with this id, or None if it is unknown, idle too long, expired or revoked."""
    if not session_id or len(session_id) > 64:
        return None
    raw = await hub.guarded(lambda c: c.hgetall(session_key(session_id)), None)
    if raw:
        session = from_registry(session_id, raw)
        if session is None:  # revoked: the tombstone answers without PostgreSQL
            return None
    else:
        session = await _select_session(db, session_id)
        if session is None:
            return None
        await _cache(hub, session)
    now = time.time()
    if session.live_until() <= now:
        return None
    await touch_if_due(db, hub, session, now)
    return session


async def touch_if_due(db: Database, hub: RedisHub, session: Session, now: float) -> None:
    """Slide the idle timeout, at most once a minute per session (a write to PostgreSQL and Redis)."""
    if now - session.last_seen_at > LAST_SEEN_WRITE_EVERY:
        await touch_session(db, hub, session, now)


async def touch_session(db: Database, hub: RedisHub, session: Session, now: float) -> None:
    """Slide the idle timeout: record that the session was used now."""
    await db.execute(
        "UPDATE user_sessions SET last_seen_at = to_timestamp(:now) WHERE id = :id AND revoked_at IS NULL",
        {"id": session.id, "now": now},
    )

    async def write(client: Any) -> None:
        ttl = max(1, min(REGISTRY_TTL, int(min(session.expires_at, now + session.idle_ttl) - now)))
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(session_key(session.id), "last_seen", repr(now))
            pipe.expire(session_key(session.id), ttl)
            await pipe.execute()

    await hub.guarded(write, None)


async def list_sessions(db: Database, *, user_id: int) -> list[dict[str, object]]:
    """The user's live sessions, most recently used first."""
    rows = await db.fetch_all(
        "SELECT id, created_at, last_seen_at, expires_at, ip, user_agent FROM user_sessions"
        " WHERE user_id = :user_id AND revoked_at IS NULL AND expires_at > now()"
        " AND last_seen_at + make_interval(secs => idle_ttl) > now()"
        " ORDER BY last_seen_at DESC, id",
        {"user_id": user_id},
    )
    return [dict(row._mapping) for row in rows]


async def revoke_sessions(db: Database, hub: RedisHub, *, user_id: int, session_ids: list[str]) -> list[str]:
    """Revoke the given sessions of this user (PostgreSQL first, then the registry), and
    tell the realtime layer so that their sockets are dropped. Returns the ids revoked."""
    if not session_ids:
        return []
    rows = await db.fetch_all(
        "UPDATE user_sessions SET revoked_at = now()"
        " WHERE user_id = :user_id AND id = ANY(:ids) AND revoked_at IS NULL RETURNING id",
        {"user_id": user_id, "ids": session_ids},
    )
    revoked = [row["id"] for row in rows]
    if revoked:

        async def forget(client: Any) -> None:
            async with client.pipeline(transaction=True) as pipe:
                for sid in revoked:
                    # a tombstone, not a DEL: a reader that read PostgreSQL just before the
                    # revocation committed cannot bring the live entry back
                    pipe.delete(session_key(sid))
                    pipe.hset(session_key(sid), "revoked", "1")
                    pipe.expire(session_key(sid), REGISTRY_TTL)
                pipe.srem(user_sessions_key(user_id), *revoked)
                await pipe.execute()

        await hub.guarded(forget, None)
        await publish.sessions_revoked(revoked)
    return revoked


async def revoke_all_sessions(db: Database, hub: RedisHub, *, user_id: int, except_id: str | None = None) -> list[str]:
    """Revoke every live session of the user, but `except_id` if given."""
    rows = await db.fetch_all(
        "SELECT id FROM user_sessions WHERE user_id = :user_id AND revoked_at IS NULL",
        {"user_id": user_id},
    )
    ids = [row["id"] for row in rows if row["id"] != except_id]
    return await revoke_sessions(db, hub, user_id=user_id, session_ids=ids)
