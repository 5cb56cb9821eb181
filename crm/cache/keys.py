"""The key scheme: `tc:{<owner>}:<kind>:<generation>:<hash>` (see docs/redis.md).

The owner is an org (`tc:{<org>}`) or, for a user's own views such as /me, a user
(`tc:{u:<user>}`): a user belongs to no single org. It sits in braces, a Redis
Cluster hash tag, so an owner's generations, values and locks share one slot.
`<generation>` is the Redis epoch plus the generation of every domain the view
depends on; `<hash>` is the SHA-256 of the normalised parameters (sorted keys,
defaults filled, empty values dropped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

EPOCH_KEY = "tc:epoch"


@dataclass(frozen=True)
class UserScope:
    """The owner of one user's own cached views: `tc:{u:<user>}`, beside the orgs' `tc:{<org>}`."""

    user_id: int

    def __str__(self) -> str:
        return f"u:{self.user_id}"


Owner = int | UserScope  # an org id, or a user


def scope(owner: Owner) -> str:
    return f"tc:{{{owner}}}"


def generation_key(owner: Owner, domain: str) -> str:
    return f"{scope(owner)}:gen:{domain}"


def fence_key(owner: Owner, domain: str) -> str:
    """The sorted set of write transactions of this domain between their fence and their bump."""
    return f"{scope(owner)}:fence:{domain}"


def value_prefix(owner: Owner, kind: str) -> str:
    """Everything before `<generation>:<hash>`; the read script appends the rest."""
    return f"{scope(owner)}:{kind}:"


def value_key(owner: Owner, kind: str, token: str, digest: str) -> str:
    return f"{value_prefix(owner, kind)}{token}:{digest}"


def lock_key(owner: Owner, kind: str, token: str, digest: str) -> str:
    return f"{scope(owner)}:lock:{kind}:{token}:{digest}"


def _scalar(value: Any) -> str:
    # query strings arrive as text: `limit=50` and a default of 50 must hash alike
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalise(params: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Order-insensitive, defaults filled, empty values dropped (`?q=` is the same as no `q`)."""
    merged: dict[str, Any] = {k: _scalar(v) for k, v in (defaults or {}).items()}
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            values = [_scalar(v) for v in value if v not in ("", None)]
            if not values:
                continue
            merged[name] = values[0] if len(values) == 1 else values
        elif value not in ("", None):
            merged[name] = _scalar(value)
    return dict(sorted(merged.items()))


def digest(params: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> str:
    normal = normalise(params, defaults)
    return hashlib.sha256(orjson.dumps(normal, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def domains_key_list(owner: Owner, depends: Iterable[str]) -> list[str]:
    return [generation_key(owner, domain) for domain in sorted(set(depends))]


def fence_key_list(owner: Owner, depends: Iterable[str]) -> list[str]:
    """`domains_key_list()`'s fences, in the same order."""
    return [fence_key(owner, domain) for domain in sorted(set(depends))]


def fence_of(generation: str) -> str:
    """The fence key beside a generation key."""
    owner_scope, _, domain = generation.rpartition(":gen:")
    return f"{owner_scope}:fence:{domain}"
