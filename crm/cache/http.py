"""Whole-response caching for GET routes, with strong ETags and 304s.

    @blueprint.get("/orgs/<org>/contacts/<id:contact_id>")
    @login_required
    @cached_response("contacts:record", depends=("contacts",), ttl=600)
    @validate_response(ContactOut)
    async def get_contact(org: OrgScope, contact_id: int) -> ...

The key holds the org, the route's path ids and its normalised query string, and
(`vary=`) the caller's role or user id where the answer depends on them.

A GET whose body is assembled from several cached views (`cache.cached()`,
`cache.cached_many()`) rather than cached whole, such as /me, takes `@composed_response`
instead: the same headers, and `X-Cache: hit` only when every view it read was a hit.

The org guard (crm.tenancy.scope) reads the route's entry in the same Redis round
trip as the org and the caller's role when it can (`prefetch_key()`: the key must
not vary by role, which the guard has not read yet), and leaves the lookup in
`g.cache_prefetch`; the route then uses it instead of reading again. The lookup
still happens before anything is computed from PostgreSQL, so the cache's rules hold.
"""

from __future__ import annotations

import contextvars
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from types import SimpleNamespace
from typing import Any, Literal, TypeVar, cast

from quart import Response, current_app, g, request
from werkzeug.datastructures import MultiDict

from crm.cache import keys
from crm.cache.store import prefetched as prefetched_lookup

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
ATTRIBUTE = "_tinycrm_cached_response"
Vary = Literal["role", "user"]
CACHE_CONTROL = "private, max-age=0, must-revalidate"


# the outcomes of the cached views read while a composed response is built (None: no such response)
_outcomes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("tinycrm_cache_outcomes", default=None)


class _Uncacheable(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def etag_of(body: bytes, *, version: bool = False) -> str:
    """A strong ETag: the body's hash. For a record, `"<version>-<hash>"`, so the same tag sent
    back as `If-Match` names the version a PATCH is based on (crm.http.version_from_if_match)."""
    digest = hashlib.sha256(body).hexdigest()[:32]
    if version and (found := _VERSION.search(body)):
        return f'"{int(found.group(1))}-{digest}"'
    return f'"{digest}"'


_VERSION = re.compile(rb'"version":(\d{1,10})[,}]')


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match compares weakly (RFC 9110 13.1.2): ignore a W/ prefix
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates


def finish(body: bytes, outcome: str, *, status: int = 200, version_etag: bool = False) -> Response:
    """The response for a cacheable body: 304 when the client holds it already."""
    status, headers = answer(
        body, outcome, request.headers.get("If-None-Match"), status=status, version_etag=version_etag
    )
    if status == 304:
        return Response(b"", status=304, headers=headers)
    return Response(body, status=status, headers=headers, content_type="application/json")


def answer(
    body: bytes, outcome: str, if_none_match: str | None, *, status: int = 200, version_etag: bool = False
) -> tuple[int, dict[str, str]]:
    """`finish()`'s status and cache headers, from its parts (the edge has no Quart request)."""
    etag = etag_of(body, version=version_etag)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Cache": "hit" if outcome == "hit" else "miss"}
    return (304 if _matches(if_none_match, etag) else status), headers


def request_params(
    view_args: Mapping[str, Any], vary: Iterable[Vary], org: Any, args: MultiDict[str, str] | None = None
) -> dict[str, Any]:
    """The key's parts: the query (`args`, else the request's), the path ids, what `vary` names."""
    args = request.args if args is None else args
    params: dict[str, Any] = {name: args.getlist(name) for name in args}
    for name, value in view_args.items():
        if name != "org":
            params[f"@{name}"] = value
    vary = set(vary)
    if any(value == "me" for value in args.values()):
        vary.add("user")  # `owner=me` answers differently for each caller
    for what in sorted(vary):
        params[f"~{what}"] = org.role if what == "role" else org.user_id
    return params


def _extra(key_extra: Callable[[], Mapping[str, Any]] | None) -> dict[str, Any]:
    return {f"+{name}": value for name, value in key_extra().items()} if key_extra else {}


def utc_day() -> dict[str, Any]:
    """For views with "today" or "this month" in them: a new UTC day is a new key."""
    return {"day": datetime.now(UTC).date().isoformat()}


@dataclass(frozen=True)
class CachedView:
    kind: str
    depends: tuple[str, ...]
    vary: tuple[Vary, ...]
    defaults: Mapping[str, Any] | None
    key_extra: Callable[[], Mapping[str, Any]] | None
    version_etag: bool = False

    def digest(self, view_args: Mapping[str, Any], org: Any, args: MultiDict[str, str] | None = None) -> str:
        params = request_params(view_args, self.vary, org, args)
        return keys.digest({**params, **_extra(self.key_extra)}, self.defaults)


def prefetch_key(user_id: int) -> tuple[str, tuple[str, ...], str] | None:
    """(kind, depends, digest) of this request's cached_response entry, if it can be read before
    the caller's role is known; else None."""
    view = current_app.view_functions.get(request.endpoint or "")
    spec = getattr(view, ATTRIBUTE, None)  # functools.wraps copies it onto the outer decorators
    if not isinstance(spec, CachedView) or "role" in spec.vary or request.method not in ("GET", "HEAD"):
        return None
    return spec.kind, spec.depends, spec.digest(request.view_args or {}, SimpleNamespace(user_id=user_id, role=None))


def cached_response(
    kind: str,
    *,
    depends: Iterable[str],
    ttl: int,
    vary: Iterable[Vary] = (),
    defaults: Mapping[str, Any] | None = None,
    key_extra: Callable[[], Mapping[str, Any]] | None = None,
    single_flight: bool = True,
    version_etag: bool = False,
) -> Callable[[F], F]:
    """Cache a tenant GET route's 200 body per org (and role/user if `vary` says so).

    `version_etag=True` for single-record routes: the ETag carries the record's version.

    `key_extra()` adds to the key what the answer depends on besides the request,
    e.g. the UTC day for "due today" numbers.
    """
    depends, vary = tuple(depends), tuple(vary)
    spec = CachedView(kind, depends, vary, defaults, key_extra, version_etag)

    def decorator(func: F) -> F:
        @wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Response:
            org = kwargs["org"]
            store = current_app.extensions["cache"]
            digest = spec.digest(kwargs, org)
            prefetched = g.pop("cache_prefetch", None)

            async def compute() -> bytes:
                response = cast(Response, await current_app.make_response(await func(*args, **kwargs)))
                if response.status_code != 200:
                    raise _Uncacheable(response)
                return await response.get_data(as_text=False)

            reset = prefetched_lookup.set(prefetched)  # get_or_compute's lookup answers it, if it matches
            try:
                body, outcome = await store.get_or_compute(
                    org_id=org.id,
                    kind=kind,
                    depends=depends,
                    digest=digest,
                    ttl=ttl,
                    compute=compute,
                    single_flight=single_flight,
                )
            except _Uncacheable as uncacheable:
                return uncacheable.response
            finally:
                prefetched_lookup.reset(reset)
            return finish(body, outcome, version_etag=version_etag)

        setattr(wrapper, ATTRIBUTE, spec)
        return cast(F, wrapper)

    return decorator


def note_outcome(outcome: str) -> None:
    """Count a cached view's outcome (`hit`, `miss`, `bypass`) towards the composed response being built."""
    seen = _outcomes.get()
    if seen is not None:
        seen.append(outcome)


def composed_response(func: F) -> F:
    """Cache headers for a GET built from cached views: a strong ETag of the body, 304 to
    If-None-Match, and `X-Cache: hit` when every view it read (and at least one) was a hit.

    Freshness comes from the views (each read under its generations before PostgreSQL),
    so the body is assembled on every request; only the views are stored."""

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        seen: list[str] = []
        reset = _outcomes.set(seen)  # concurrent lookups (asyncio.gather) append to the same list
        try:
            response = cast(Response, await current_app.make_response(await func(*args, **kwargs)))
        finally:
            _outcomes.reset(reset)
        if response.status_code != 200:
            return response
        outcome = "hit" if seen and all(found == "hit" for found in seen) else "miss"
        return finish(await response.get_data(as_text=False), outcome)

    return cast(F, wrapper)
