"""Refresh tokens: opaque, 30 days, stored as SHA-256, rotated on every use.

Redis (`tc:rt:{hash}`) is the fast path and PostgreSQL's `refresh_tokens` the
durable copy, so a Redis restart signs nobody out. PostgreSQL's conditional
UPDATE (`used_at IS NULL`) decides a race between two uses of one token. A
token that is presented again after it was rotated means it leaked: the
whole session is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from databases import Database

from crm.auth import sessions
from crm.errors import APIError
from crm.redis import RedisHub

REFRESH_TTL = 30 * 24 * 3600


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def refresh_key(digest: str) -> str:
    return f"tc:rt:{digest}"


@dataclass(frozen=True)
class Claimed:
    session_id: str
    user_id: int


async def issue(db: Database, hub: RedisHub, *, session: sessions.Session, ttl: int = REFRESH_TTL) -> str:
    """A new refresh token for this session (never outliving it)."""
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    expires_at = min(time.time() + ttl, session.expires_at)
    await db.execute(
        "INSERT INTO refresh_tokens (hash, session_id, user_id, expires_at)"
        " VALUES (:hash, :sid, :uid, to_timestamp(:expires))",
        {"hash": digest, "sid": session.id, "uid": session.user_id, "expires": expires_at},
    )
    await _cache(hub, digest, session.id, session.user_id, expires_at, used=False)
    return token


async def _cache(hub: RedisHub, digest: str, session_id: str, user_id: int, expires_at: float, *, used: bool) -> None:
    ttl = int(expires_at - time.time())
    if ttl <= 0:
        return

    async def write(client: Any) -> None:
        mapping = {"sid": session_id, "uid": str(user_id), "exp": repr(expires_at), "used": "1" if used else ""}
        await client.hset(refresh_key(digest), mapping=mapping)
        await client.expire(refresh_key(digest), ttl)

    await hub.guarded(write, None)


async def _reused(db: Database, hub: RedisHub, *, session_id: str, user_id: int) -> APIError:
    await sessions.revoke_sessions(db, hub, user_id=user_id, session_ids=[session_id])
    return APIError(401, "refresh_token_reused", "This refresh token was already used; the session is signed out.")


def _invalid() -> APIError:
    return APIError(401, "invalid_refresh_token", "The refresh token is invalid or expired.")


async def claim(db: Database, hub: RedisHub, *, token: str) -> tuple[Claimed, sessions.Session]:
    """Use up a refresh token: its live session, or a 401 (reuse revokes the session)."""
    if not token or len(token) > 256:
        raise _invalid()
    digest = token_hash(token)
    raw = await hub.guarded(lambda c: c.hgetall(refresh_key(digest)), None)
    if raw:
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if fields.get("used"):
            raise await _reused(db, hub, session_id=fields["sid"], user_id=int(fields["uid"]))
    # PostgreSQL decides: exactly one caller flips used_at
    row = await db.fetch_one(
        "UPDATE refresh_tokens SET used_at = now() WHERE hash = :hash AND used_at IS NULL AND expires_at > now()"
        " RETURNING hash, session_id, user_id, extract(epoch FROM expires_at) AS expires",
        {"hash": digest},
    )
    if row is None:
        old = await db.fetch_one(
            "SELECT session_id, user_id, used_at FROM refresh_tokens WHERE hash = :hash", {"hash": digest}
        )
        if old is not None and old["used_at"] is not None:
            raise await _reused(db, hub, session_id=old["session_id"], user_id=int(old["user_id"]))
        raise _invalid()
    if not hmac.compare_digest(str(row["hash"]), digest):
        raise _invalid()
    claimed = Claimed(session_id=row["session_id"], user_id=int(row["user_id"]))
    # keep the used marker until the token would have expired, so reuse is seen from Redis alone
    await _cache(hub, digest, claimed.session_id, claimed.user_id, float(row["expires"]), used=True)
    session = await sessions.load_session(db, hub, claimed.session_id)
    if session is None or session.user_id != claimed.user_id:
        raise APIError(401, "session_revoked", "That session has ended. Sign in again.")
    return claimed, session
