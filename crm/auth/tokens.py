"""Short-lived signed access tokens for API clients.

A token carries the user, the session it belongs to and a `jti`; it is valid
only while it is unexpired, correctly signed (itsdangerous HMAC, compared in
constant time), its session is live and its `jti` is not on the blacklist.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from crm.redis import RedisHub

SALT = "tinycrm.access-token.v1"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    jti: str
    expires_at: float


@functools.lru_cache(maxsize=8)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    # built once per secret: itsdangerous derives the signing key on every use anyway, and building
    # the serializer (its signer and JSON checks) cost as much as verifying the token
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue_access_token(secret: str, *, user_id: int, session_id: str, ttl: int) -> tuple[str, AccessClaims]:
    claims = AccessClaims(
        user_id=user_id, session_id=session_id, jti=secrets.token_urlsafe(12), expires_at=time.time() + ttl
    )
    token = _serializer(secret).dumps({"sub": user_id, "sid": session_id, "jti": claims.jti, "ttl": ttl})
    return token, claims


def read_access_token(secret: str, token: str) -> AccessClaims | None:
    """The claims of a well-signed, unexpired token, else None."""
    if not token or len(token) > 1024:
        return None
    memo_key = (secret, hashlib.sha256(token.encode()).digest())  # looked up by digest: no timing on the token
    claims = _verified.get(memo_key)
    if claims is None:
        claims = _verify(secret, token)
        if claims is None:
            return None
        if len(_verified) >= VERIFIED_MEMO_MAX:
            _verified.clear()
        _verified[memo_key] = claims
    if claims.expires_at <= time.time():
        return None
    return claims


# Tokens whose signature this process checked, with their claims: a signature's validity never
# changes, so an API client's next requests skip the HMAC and JSON work. Expiry is checked on
# every use; revocation is the blacklist's and the session registry's job, in Redis, as before.
VERIFIED_MEMO_MAX = 4096
_verified: dict[tuple[str, bytes], AccessClaims] = {}


def _verify(secret: str, token: str) -> AccessClaims | None:
    try:
        payload, signed_at = _serializer(secret).loads(token, return_timestamp=True)
    except BadSignature:
        return None
    try:
        ttl = int(payload["ttl"])
        expires_at = signed_at.timestamp() + ttl
        claims = AccessClaims(
            user_id=int(payload["sub"]),
            session_id=str(payload["sid"]),
            jti=str(payload["jti"]),
            expires_at=expires_at,
        )
    except (KeyError, TypeError, ValueError):
        return None
    return claims


def blacklist_key(jti: str) -> str:
    return f"tc:jti:{jti}"


async def is_blacklisted(hub: RedisHub, jti: str) -> bool:
    return bool(await hub.guarded(lambda c: c.exists(blacklist_key(jti)), 0))


async def blacklist(hub: RedisHub, claims: AccessClaims) -> None:
    ttl = max(1, int(claims.expires_at - time.time()) + 1)
    await hub.guarded(lambda c: c.set(blacklist_key(claims.jti), b"1", ex=ttl), None)
