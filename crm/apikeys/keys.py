"""The key format and the check the auth guard runs for `Authorization: Bearer tck_…`.

A key is `tck_<prefix>_<secret>`: the prefix finds the row, the SHA-256 of the
whole key is compared in constant time. Keys carry 256 random bits, so a fast
hash is enough (no password-style stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from databases import Database

from crm.apikeys import queries

KEY_SCHEME = "tck"
PREFIX_RE = re.compile(r"^[0-9a-f]{12}$")
TOUCH_EVERY = 60  # seconds: last_used_at is written at most once a minute


@dataclass(frozen=True)
class ApiKey:
    id: int
    org_id: int
    role: str
    name: str
    prefix: str
    created_by: int


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_SCHEME + "_")


def new_key() -> tuple[str, str]:
    """A fresh (prefix, full key)."""
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_prefix(token: str) -> str | None:
    if len(token) > 200:
        return None
    scheme, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or not PREFIX_RE.match(prefix) or len(secret) < 16:
        return None
    return prefix


async def authenticate_key(db: Database, token: str) -> ApiKey | None:
    """The live key this token is, or None (unknown, malformed, revoked or wrong secret)."""
    prefix = parse_prefix(token)
    if prefix is None:
        return None
    row = await queries.select_live_key_by_prefix(db, prefix=prefix)
    if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), hash_key(token)):
        return None
    if row["idle"] is None or row["idle"] >= TOUCH_EVERY:
        await queries.touch_api_key(db, key_id=row["id"])
    return ApiKey(
        id=row["id"],
        org_id=row["org_id"],
        role=row["role"],
        name=row["name"],
        prefix=row["prefix"],
        created_by=row["created_by"],
    )
