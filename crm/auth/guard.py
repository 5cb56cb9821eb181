"""Who is calling: a browser session cookie, a Bearer access token, an org API key, or nobody.

`login_required` wraps a route; `current_principal()` resolves (once per request)
and `g.principal` holds the answer for the rest of the request. An API key acts
for its org only: on org routes (the org guard checks which org) and on /me.
"""

from __future__ import annotations

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
from crm.redis import get_redis

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
    raw = request.headers.get("Authorization", "")
    if raw[:7].lower() != "bearer ":
        return None
    return raw[7:].strip() or None


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


async def current_principal() -> Principal | None:
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
