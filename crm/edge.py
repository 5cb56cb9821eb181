"""The edge: answers a cached tenant GET before Quart when every check passes in Redis.

A Bearer-token or session-cookie GET of a `cached_response` route whose answer is cached needs two Redis
round trips and no PostgreSQL: one for the caller's session, token blacklist and rate-limit
count (crm.auth.guard's script), one for the org, the caller's role and the cached entry
(the org guard's lookups, crm.tenancy.scope). Quart's request machinery and the hooks around
it cost three times as much as that work, so this ASGI middleware, in front of Quart, does
that work with the same functions and scripts, in the same order, and answers the hit itself.

It answers only when everything is known and allowed; anything else goes to Quart unchanged
and is decided there: no token or session cookie, an API key, a bad or expired token, a
session Redis does not hold or whose last-seen write is due, a caller over the rate limit, an
org it does not remember or that requires 2FA, a non-member, a role-dependent view, a miss,
a dirty or unreachable cache. Once it has counted the request it hands the count to Quart
(`guard.HANDOVER`), so a request it passes on is not counted twice; a miss also hands over its
lookups (`scope.HANDED_LOOKUPS`), which Quart's org guard uses instead of reading them again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from quart import Quart
from quart_auth import QuartAuth
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie
from werkzeug.routing import MapAdapter

from crm import metrics
from crm.auth import guard, sessions
from crm.cache import http as cache_http
from crm.config import Config
from crm.http import SECURITY_HEADERS, client_ip_of, request_id_from
from crm.ratelimit.limiter import Decision, default_group, group_of_view, policy_for
from crm.tenancy import scope as org_scope

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

PREFIX = "/api/v1/orgs/"
MATCH_MEMO_MAX = 10_000


class Edge:
    """`app.asgi_app = Edge(app, app.asgi_app)`."""

    def __init__(self, app: Quart, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner
        self._routes: MapAdapter | None = None
        self._matched: dict[str, tuple[str, Mapping[str, Any]] | None] = {}
        self._auth: QuartAuth = app.extensions["QUART_AUTH"][0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PREFIX)
            and not scope.get("root_path")
        ):
            answer = await self._answer(scope)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.inner(scope, receive, send)

    async def _answer(self, scope: Scope) -> Answer | None:
        headers = _first_headers(scope)
        token = guard.bearer_of(headers.get("authorization", ""))
        cookie = None if token is not None else parse_cookie(headers.get("cookie", "")).get(str(self._auth.cookie_name))
        if token is None and cookie is None:
            return None
        route = self._match(scope["path"])
        if route is None:
            return None
        endpoint, view_args = route
        view = self.app.view_functions.get(endpoint)
        spec = getattr(view, cache_http.ATTRIBUTE, None)
        if not isinstance(spec, cache_http.CachedView) or "role" in spec.vary:
            return None
        args = _query_args(scope)
        org_id = org_scope.remembered_org_id(str(view_args.get("org", "")))
        if args is None or org_id is None:
            return None

        # 1. the caller: the guard's check, counted under the route's rate-limit group
        config: Config = self.app.config["TINYCRM"]
        policy = policy_for(config, group_of_view(view) or default_group("GET", scope["path"]))
        if policy.name == "auth":
            return None  # counted per account too: the limiter's job
        remote = (scope.get("client") or (None,))[0]
        address = client_ip_of(remote, headers.get("x-forwarded-for", ""), config.trusted_proxies)
        now = time.time()
        check = guard.prepare_check(
            self.app.secret_key,  # type: ignore[arg-type]
            token,
            lambda: None if cookie is None else self._auth.load_token(cookie, self.app),
            counter_prefix=f"tc:rl:{policy.name}:" if config.rate_limit_enabled else "",
            window_ms=policy.window * 1000,
            anonymous_identity=f"ip:{address or 'unknown'}",
            now=now,
        )
        if check is None:
            return None
        checked = await guard.run_check(self.app.extensions["redis"], check)
        if checked is None:
            return None
        scope[guard.HANDOVER] = (check, checked)  # from here on, Quart takes this count if we pass
        session = checked.session
        if session is None or now - session.last_seen_at > sessions.LAST_SEEN_WRITE_EVERY:
            return None
        decision = Decision(policy, *checked.count) if checked.count is not None else None
        if decision is not None and not decision.allowed:
            return None
        user_id = check.claims.user_id if check.claims is not None else session.user_id

        # 2. the org, the caller's role in it and the entry: the guard's lookups and the route's
        digest = spec.digest(view_args, SimpleNamespace(user_id=user_id, role=None), args)
        views = [*org_scope.guard_views(org_id, user_id), (spec.kind, spec.depends, digest)]
        found = await self.app.extensions["cache"].lookup_many(org_id, views)
        if any(lookup.value is None for lookup in found):
            scope[org_scope.HANDED_LOOKUPS] = (org_id, views, found)  # Quart's org guard takes them
            return None
        meta, role = orjson.loads(found[0].value), orjson.loads(found[1].value)
        org_ref = str(view_args["org"]).lower()
        if meta is None or meta["require_2fa"] or role is None or (not org_ref.isdigit() and meta["slug"] != org_ref):
            return None

        del scope[guard.HANDOVER]
        for kind, _depends, _digest in views:
            metrics.CACHE_LOOKUPS.labels(kind, "hit").inc()
        body = found[2].value
        status, cache_headers = cache_http.answer(
            body, "hit", headers.get("if-none-match"), version_etag=spec.version_etag
        )
        response = {
            **cache_headers,
            "X-Request-ID": request_id_from(headers.get("x-request-id", "")),
            **SECURITY_HEADERS,
        }
        if decision is not None:
            response["RateLimit-Policy"] = policy.header
            response["RateLimit"] = decision.header
        if status == 304:
            body = b""
        else:
            response["Content-Type"] = "application/json"
        response["Content-Length"] = str(len(body))
        return status, [(name.encode(), value.encode()) for name, value in response.items()], body

    def _match(self, path: str) -> tuple[str, Mapping[str, Any]] | None:
        """The route and its arguments, remembered per path (the map never changes once serving)."""
        if path in self._matched:
            return self._matched[path]
        if self._routes is None:
            self._routes = self.app.url_map.bind("localhost")
        try:
            endpoint, view_args = self._routes.match(path, method="GET")
            found: tuple[str, Mapping[str, Any]] | None = (str(endpoint), view_args)
        except HTTPException:  # not found, wrong method, a redirect: Quart answers those
            found = None
        if len(self._matched) >= MATCH_MEMO_MAX:
            self._matched.clear()
        self._matched[path] = found
        return found


def _first_headers(scope: Scope) -> dict[str, str]:
    """Lower-cased header names to their first value, as werkzeug's `Headers.get` answers."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        if key not in found:
            found[key] = value.decode("latin-1")
    return found


def _query_args(scope: Scope) -> ImmutableMultiDict[str, str] | None:
    """The query as Quart parses it (werkzeug's `Request.args`), or None if Quart should say."""
    try:
        query = scope.get("query_string", b"").decode()
    except UnicodeDecodeError:
        return None
    return ImmutableMultiDict(parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"))
