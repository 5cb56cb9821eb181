"""Who is calling: a browser session cookie, a Bearer access token, an org API key, or nobody.

`login_required` wraps a route; `current_principal()` resolves (once per request)
and `g.principal` holds the answer for the rest of the request. An API key acts
for its org only: on org routes (the org guard checks which org) and on /me.

The rate limiter resolves the principal first, through `resolve_and_count()`: one
Lua script checks the token's `jti` against the blacklist, reads the session
registry and counts the request against the caller's rate-limit window, in one
Redis round trip. The checks are the same as `_resolve()`'s, every request, on
every instance: nothing about a token or a session is remembered in the process.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from quart import current_app, g, request
from quart_auth import QuartAuth

from crm.apikeys import keys as api_keys
from crm.auth import sessions, tokens
from crm.db import get_db
from crm.errors import APIError
from crm.redis import RedisHub, get_redis
from crm.redismux import Script

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes outside an org that an API key may call (it answers for the key itself).
API_KEY_USER_ENDPOINTS = frozenset({"auth.me"})


@dataclass(frozen=True)
class Principal:
    user_id: int
    session_id: str
    via: Literal["cookie", "token", "api_key"]
    claims: tokens.AccessClaims | None = None
    api_key: api_keys.ApiKey | None = None


def auth_extension() -> QuartAuth:
    return cast(QuartAuth, current_app.extensions["QUART_AUTH"][0])


def bearer_token() -> str | None:
    return bearer_of(request.headers.get("Authorization", ""))


def bearer_of(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if authorization[:7].lower() != "bearer ":
        return None
    return authorization[7:].strip() or None


async def _resolve() -> Principal | None:
    db, hub = get_db(), get_redis()
    token = bearer_token()
    if token is not None and api_keys.is_api_key(token):
        key = await api_keys.authenticate_key(db, token)
        if key is None:
            g.auth_error = ("invalid_api_key", "The API key is invalid or revoked.")
            return None
        return Principal(key.created_by, "", "api_key", api_key=key)
    if token is not None:
        claims = tokens.read_access_token(current_app.secret_key, token)  # type: ignore[arg-type]
        if claims is None or await tokens.is_blacklisted(hub, claims.jti):
            return None
        session = await sessions.load_session(db, hub, claims.session_id)
        if session is None or session.user_id != claims.user_id:
            return None
        return Principal(claims.user_id, session.id, "token", claims)
    session_id = auth_extension().load_user().auth_id
    if session_id is None:
        return None
    session = await sessions.load_session(db, hub, session_id)
    if session is None:
        return None
    return Principal(session.user_id, session.id, "cookie")


# KEYS[1] the session registry entry, KEYS[2] (tokens only) the jti's blacklist entry.
# ARGV[1] the counter key's prefix, ARGV[2] the window in ms, ARGV[3] the identity to count an
# unauthenticated request under, ARGV[4] the user id the token claims ('' for a cookie), ARGV[5] now.
# An empty ARGV[1] counts nothing (the limiter is off, or the principal is wanted before it runs).
# The verdict is `_resolve()`'s: blacklisted, revoked, another user's, idle too long or expired is
# 'dead' (counted under ARGV[3]); 'live' is counted under the session's user; 'missing' (not in
# Redis: PostgreSQL must answer) is not counted here. Returns {verdict, registry fields, count, ttl}.
RESOLVE_AND_COUNT_SCRIPT = """
local verdict, user = 'live', false
local fields = redis.call('HGETALL', KEYS[1])
if #KEYS > 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  verdict = 'dead'
elseif #fields == 0 then
  return {'missing', fields}
else
  local f = {}
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  if f['revoked'] or not f['user_id'] or (ARGV[4] ~= '' and f['user_id'] ~= ARGV[4]) then
    verdict = 'dead'
  else
    local idle = tonumber(f['idle'])
    if not idle then idle = 1209600 end
    local live_until = math.min(tonumber(f['expires']), tonumber(f['last_seen']) + idle)
    if live_until <= tonumber(ARGV[5]) then verdict = 'dead' else user = f['user_id'] end
  end
end
if ARGV[1] == '' then return {verdict, fields} end
local key = ARGV[1] .. (user and ('user:' .. user) or ARGV[3])
local count = redis.call('INCR', key)
if count == 1 then
  redis.call('PEXPIRE', key, ARGV[2])
end
local ttl = redis.call('PTTL', key)
if ttl < 0 then
  redis.call('PEXPIRE', key, ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {verdict, fields, count, ttl}
"""
RESOLVE_AND_COUNT = Script(RESOLVE_AND_COUNT_SCRIPT)
_FAILED: Any = object()


@dataclass(frozen=True)
class Check:
    """One resolve-and-count round trip: the script's keys and arguments, for which session."""

    session_id: str
    claims: tokens.AccessClaims | None
    keys: list[str]
    args: list[str | int]
    now: float

    @property
    def counter_prefix(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Checked:
    """What the script answered: `verdict` live, dead or missing (PostgreSQL must answer);
    the live session; the count under the caller's window, (count, ms until reset)."""

    verdict: str
    session: sessions.Session | None
    count: tuple[int, int] | None


def prepare_check(
    secret: str,
    token: str | None,
    cookie_session_id: Callable[[], str | None],
    *,
    counter_prefix: str,
    window_ms: int,
    anonymous_identity: str,
    now: float,
) -> Check | None:
    """The round trip for a Bearer token, else for the cookie's session; None when there is
    neither, for an API key (PostgreSQL answers those) and for a bad token (refused unasked)."""
    claims: tokens.AccessClaims | None = None
    if token is not None:
        if api_keys.is_api_key(token):
            return None
        claims = tokens.read_access_token(secret, token)
        if claims is None:
            return None
        session_id: str | None = claims.session_id
        script_keys = [sessions.session_key(claims.session_id), tokens.blacklist_key(claims.jti)]
    else:
        session_id = cookie_session_id()
        if session_id is None:
            return None
        script_keys = [sessions.session_key(session_id)]
    if not session_id or len(session_id) > 64:
        return None
    args: list[str | int] = [
        counter_prefix,
        window_ms,
        anonymous_identity,
        "" if claims is None else claims.user_id,
        repr(now),
    ]
    return Check(session_id, claims, script_keys, args, now)


async def run_check(hub: RedisHub, check: Check) -> Checked | None:
    """Run the check's script; None when Redis could not answer."""
    found = await hub.run_script(RESOLVE_AND_COUNT, check.keys, check.args, _FAILED)
    return None if found is _FAILED else read_check(check, found)


def read_check(check: Check, found: list[Any]) -> Checked:
    verdict = found[0].decode() if isinstance(found[0], bytes) else str(found[0])
    if verdict == "missing":
        return Checked(verdict, None, None)
    count = (int(found[2]), int(found[3])) if check.counter_prefix else None
    if verdict != "live":
        return Checked(verdict, None, count)
    raw = found[1]
    session = sessions.from_registry(check.session_id, dict(zip(raw[::2], raw[1::2], strict=True)))
    if session is None or session.live_until() <= check.now:  # the script said live: it cannot be, but be sure
        return Checked("dead", None, count)
    return Checked(verdict, session, count)


# The edge (crm.edge) hands a check it ran over to this request when it cannot answer it itself,
# so the request is counted once: `resolve_and_count()` takes it instead of asking Redis again.
HANDOVER = "tinycrm.checked"


async def resolve_and_count(
    hub: RedisHub, counter_prefix: str, window_ms: int, anonymous_identity: str
) -> tuple[Principal | None, tuple[int, int] | None] | None:
    """Resolve this request's principal and count it in one round trip, for a cookie or a token.

    Answers (principal, (count, ms until reset)), with the count under `user:<id>` when the
    session is live and under `anonymous_identity` otherwise; None when the request carries
    neither (or an API key), or when Redis could not answer in one go: the caller then runs
    `current_principal()` and counts on its own, as before. An empty `counter_prefix` counts
    nothing (the count is then None).
    """
    if "principal" in g:
        return None
    scope = cast(dict[str, Any], request.scope)
    handed: tuple[Check, Checked | None] | None = scope.get(HANDOVER)
    check: Check | None
    if handed is not None and handed[0].counter_prefix == counter_prefix:
        del scope[HANDOVER]
        check, checked = handed
    else:
        check = prepare_check(
            current_app.secret_key,  # type: ignore[arg-type]
            bearer_token(),
            lambda: auth_extension().load_user().auth_id,
            counter_prefix=counter_prefix,
            window_ms=window_ms,
            anonymous_identity=anonymous_identity,
            now=time.time(),
        )
        if check is None:
            return None
        checked = await run_check(hub, check)
    if check is None or checked is None or checked.verdict == "missing":
        return None  # PostgreSQL answers: the slow path fills the registry again
    if checked.session is None:
        g.principal = None
        return None, checked.count
    session = checked.session
    await sessions.touch_if_due(get_db(), hub, session, check.now)
    if check.claims is not None:
        principal = Principal(check.claims.user_id, session.id, "token", check.claims)
    else:
        principal = Principal(session.user_id, session.id, "cookie")
    g.principal = principal
    return principal, checked.count


async def current_principal() -> Principal | None:
    if "principal" not in g:
        # a cookie or token in one round trip (blacklist and registry together), else the long way
        await resolve_and_count(get_redis(), "", 0, "")
        if "principal" not in g:
            g.principal = await _resolve()
    return cast(Principal | None, g.principal)


async def require_principal() -> Principal:
    principal = await current_principal()
    if principal is None:
        code, message = g.get("auth_error") or ("not_authenticated", "Sign in to continue.")
        raise APIError(401, code, message)
    if principal.api_key is not None and not _api_key_may_call():
        raise APIError(403, "api_key_not_allowed", "API keys can only be used on their org's routes.")
    return principal


def _api_key_may_call() -> bool:
    return "org" in (request.view_args or {}) or request.endpoint in API_KEY_USER_ENDPOINTS


def login_required(func: F) -> F:
    """The route needs a signed-in user (cookie or Bearer token)."""

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        await require_principal()
        return await func(*args, **kwargs)

    return cast(F, wrapper)


def _same_origin(value: str, allowed: set[str]) -> bool:
    parts = urlsplit(value)
    return f"{parts.scheme}://{parts.netloc}" in allowed


def check_csrf() -> None:
    """Cookie-authenticated writes must come from our own origin (strict Origin check).

    Bearer-token requests are not exposed to CSRF: browsers never attach the header on their own.
    """
    if request.method in SAFE_METHODS or bearer_token() is not None:
        return
    if auth_extension().cookie_name not in request.cookies:
        return
    allowed = {current_app.config["TINYCRM"].base_url, f"{request.scheme}://{request.host}"}
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or not _same_origin(origin, allowed):
        raise APIError(403, "csrf_failed", "Cross-site request refused.")
