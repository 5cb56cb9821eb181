"""Single-use tokens (email verification, password reset, invitations, OAuth state).

A token is 32 random bytes (urlsafe); Redis keeps only its SHA-256, with a TTL,
under `tc:ot:{purpose}:{hash}`, and consuming it is one `GETDEL`, so two racing
uses cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson

from crm.errors import APIError
from crm.redis import RedisDown, RedisHub

EMAIL_VERIFICATION_TTL = 24 * 3600
PASSWORD_RESET_TTL = 3600
INVITATION_TTL = 7 * 24 * 3600
OAUTH_STATE_TTL = 600


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(purpose: str, digest: str) -> str:
    return f"tc:ot:{purpose}:{digest}"


def new_token() -> tuple[str, str]:
    """A fresh token and its SHA-256 (hex)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def _unavailable(error: Exception) -> APIError:
    return APIError(503, "service_unavailable", "Sign-in services are unavailable. Try again shortly.")


async def store(hub: RedisHub, purpose: str, digest: str, payload: dict[str, Any], *, ttl: int) -> None:
    """Keep the payload under the token's hash for `ttl` seconds."""
    try:
        await hub.client.set(token_key(purpose, digest), orjson.dumps(payload), ex=ttl)
    except RedisDown as error:
        raise _unavailable(error) from error


async def issue(hub: RedisHub, purpose: str, payload: dict[str, Any], *, ttl: int) -> str:
    """A new single-use token carrying `payload` for `ttl` seconds."""
    token, digest = new_token()
    await store(hub, purpose, digest, payload, ttl=ttl)
    return token


async def consume(hub: RedisHub, purpose: str, token: str) -> dict[str, Any] | None:
    """The token's payload, once; None if it is unknown, used or expired."""
    if not token or len(token) > 128:
        return None
    try:
        raw = await hub.client.getdel(token_key(purpose, token_hash(token)))
    except RedisDown as error:
        raise _unavailable(error) from error
    if raw is None:
        return None
    payload = orjson.loads(raw)
    return payload if isinstance(payload, dict) else None


async def discard(hub: RedisHub, purpose: str, digest: str) -> None:
    await hub.guarded(lambda c: c.delete(token_key(purpose, digest)), None)
