"""The org-scope guard: `<org>` in a path becomes an `OrgScope` or a 404.

One app-wide `before_request` runs it for every route with `<org>`, so a new
route cannot forget it. Non-members get 404 (never 403 across orgs); viewers
get 403 on writes; an org that requires 2FA refuses members without it (403).

The caller's role is cached (crm.cache) under the org's "members" generation and
the org's metadata under its "org" generation (both bumped after commit by the
writers), so a role change or removal is seen by every instance on its next
request. Generations are read before PostgreSQL, so a stale answer is stored
under an old generation and never served. Redis down: PostgreSQL answers.

A warm request costs one Redis round trip here: the org's metadata and the
caller's role are looked up together (`cache.cached_many`), and slug -> id is
remembered in the process (slugs never change; a remembered id is still checked
against the org's cached slug, and looked up afresh if they disagree).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from quart import current_app, g, request

from crm import cache
from crm.auth.guard import SAFE_METHODS, Principal, require_principal
from crm.cache import http as cache_http
from crm.cache import keys as cache_keys
from crm.db import get_db
from crm.errors import APIError
from crm.redis import get_redis

ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
CACHE_TTL = cache.TTL_PERMISSIONS  # 5 min, a safety net behind the generations


@dataclass(frozen=True)
class OrgScope:
    """An org the caller belongs to, and the caller's role in it. Tenant SQL takes `id` from here."""

    id: int
    slug: str
    name: str
    role: str
    user_id: int
    api_key_id: int | None = None

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: str) -> None:
        if not self.at_least(role):
            raise APIError(403, "forbidden", f"This needs the {role} role or higher.")

    @property
    def can_write(self) -> bool:
        return self.at_least("member")

    @property
    def via_api_key(self) -> bool:
        return self.api_key_id is not None


@dataclass(frozen=True)
class OrgMeta:
    id: int
    slug: str
    name: str
    require_2fa: bool


SLUG_MEMO_MAX = 10_000
_slug_ids: dict[str, int] = {}  # this process's slug -> id memo; checked against the org's slug on use


def slug_key(slug: str) -> str:
    return f"tc:orgslug:{slug}"


def _valid_ref(org_ref: str) -> bool:
    if not org_ref or len(org_ref) > 64:
        return False
    return not org_ref.isdigit() or 0 < int(org_ref) < 2**63


async def _org_id_of_slug(slug: str, *, fresh: bool = False) -> int | None:
    """Slug -> id, remembered in Redis (a slug names one org; a stale entry fails the slug check)."""
    if not fresh:
        memo = _slug_ids.get(slug)
        if memo is not None:
            return memo
    hub = get_redis()
    if not fresh:
        remembered = await hub.guarded(lambda c: c.get(slug_key(slug)), None)
        if remembered:
            return _remember(slug, int(remembered))
    org_id = await get_db().fetch_val("SELECT id FROM orgs WHERE slug = :slug", {"slug": slug})
    if org_id is None:
        _slug_ids.pop(slug, None)
        return None
    await hub.guarded(lambda c: c.set(slug_key(slug), org_id, ex=CACHE_TTL), None)
    return _remember(slug, int(org_id))


def _remember(slug: str, org_id: int) -> int:
    if len(_slug_ids) >= SLUG_MEMO_MAX:
        _slug_ids.clear()
    _slug_ids[slug] = org_id
    return org_id


def _meta_view(org_id: int) -> cache.View:
    async def select() -> dict[str, Any] | None:
        row = await get_db().fetch_one("SELECT id, slug, name, require_2fa FROM orgs WHERE id = :id", {"id": org_id})
        return dict(row._mapping) if row else None

    return cache.View("org:meta", ("org",), {}, CACHE_TTL, select, single_flight=False)


def _role_view(org_id: int, user_id: int) -> cache.View:
    async def select() -> str | None:
        role = await get_db().fetch_val(
            "SELECT role FROM memberships WHERE org_id = :org AND user_id = :user", {"org": org_id, "user": user_id}
        )
        return None if role is None else str(role)

    return cache.View("members:role", ("members",), {"user": user_id}, CACHE_TTL, select, single_flight=False)


def guard_views(org_id: int, user_id: int) -> list[tuple[str, tuple[str, ...], str]]:
    """(kind, depends, digest) of the org's metadata and the user's role, as `_meta_and_role()`
    reads them: for the edge (crm.edge), which looks them up without a request."""
    views = (_meta_view(org_id), _role_view(org_id, user_id))
    return [(view.kind, tuple(view.depends), cache_keys.digest(view.params)) for view in views]


# The ASGI scope key under which crm.edge hands over its lookup of `guard_views()` plus the
# route's entry, made before anything was computed, when it passes a request on to Quart
# (a miss): the guard's own lookup below uses it instead of a second Redis round trip.
HANDED_LOOKUPS = "tinycrm.looked_up"


def remembered_org_id(org_ref: str) -> int | None:
    """The org id a path's `<org>` names, without asking anyone: an id, or a slug this process
    remembers (the caller checks it against the org's cached slug); else None."""
    org_ref = org_ref.lower()
    if not _valid_ref(org_ref):
        return None
    return int(org_ref) if org_ref.isdigit() else _slug_ids.get(org_ref)


async def _meta_and_role(org_id: int, user_id: int, *, prefetch: bool = False) -> tuple[OrgMeta | None, str | None]:
    """The org's metadata and the user's role in it, both cached, in one Redis round trip; with
    `prefetch`, the route's own cache entry too (see crm.cache.http), left in `g.cache_prefetch`."""
    also = cache_http.prefetch_key(user_id) if prefetch else None
    (found, role), lookup = await cache.cached_many(
        org_id,
        [_meta_view(org_id), _role_view(org_id, user_id)],
        also=also,
        looked_up=cast(dict[str, Any], request.scope).pop(HANDED_LOOKUPS, None) if prefetch else None,
    )
    if also is not None and lookup is not None:
        g.cache_prefetch = (org_id, also[0], also[2], lookup)
    return (OrgMeta(**found) if found else None), (None if role is None else str(role))


async def org_summaries(user_id: int, org_ids: Iterable[int]) -> list[dict[str, Any]]:
    """For /me: each org's id, slug, name and the user's role in it, from this guard's cached views
    (under the org's `org` and `members` generations, so a rename or a role change needs no bump
    of each member's /me), looked up concurrently. Orgs the user is no longer in are left out;
    sorted by name."""
    found = await asyncio.gather(*(_meta_and_role(org_id, user_id) for org_id in org_ids))
    orgs = [
        {"id": meta.id, "slug": meta.slug, "name": meta.name, "role": role}
        for meta, role in found
        if meta is not None and role is not None
    ]
    return sorted(orgs, key=lambda org: (org["name"].casefold(), org["name"], org["id"]))


async def load_org_and_role(org_ref: str, user_id: int, *, prefetch: bool = False) -> tuple[OrgMeta, str | None] | None:
    """The org named by slug or id and the user's role in it (None: not a member); None if no such org.

    `prefetch` (the org guard, in a request): read the route's cache entry in the same round trip."""
    org_ref = org_ref.lower()
    if not _valid_ref(org_ref):
        return None
    if org_ref.isdigit():
        meta, role = await _meta_and_role(int(org_ref), user_id, prefetch=prefetch)
    else:
        org_id = await _org_id_of_slug(org_ref)
        meta, role = await _meta_and_role(org_id, user_id, prefetch=prefetch) if org_id is not None else (None, None)
        if org_id is not None and (meta is None or meta.slug != org_ref):
            org_id = await _org_id_of_slug(org_ref, fresh=True)  # the remembered id was stale
            meta, role = (
                await _meta_and_role(org_id, user_id, prefetch=prefetch) if org_id is not None else (None, None)
            )
    if meta is None:
        return None
    return meta, role


async def select_membership(org_ref: str, user_id: int) -> OrgScope | None:
    """The user's scope in the org named by slug or id, or None when it is not theirs
    (or the org requires 2FA and the user has not turned it on: sockets get no events then)."""
    found = await load_org_and_role(org_ref, user_id)
    if found is None:
        return None
    meta, role = found
    if role is None or (meta.require_2fa and not await _has_2fa(user_id)):
        return None
    return OrgScope(id=meta.id, slug=meta.slug, name=meta.name, role=role, user_id=user_id)


async def _api_key_scope(principal: Principal, org_ref: str) -> OrgScope | None:
    key = principal.api_key
    assert key is not None
    found = await load_org_and_role(org_ref, principal.user_id, prefetch=True)
    if found is None or found[0].id != key.org_id:
        return None
    meta = found[0]
    return OrgScope(meta.id, meta.slug, meta.name, key.role, principal.user_id, api_key_id=key.id)


async def _has_2fa(user_id: int) -> bool:
    return bool(
        await get_db().fetch_val("SELECT totp_enabled_at IS NOT NULL FROM users WHERE id = :id", {"id": user_id})
    )


async def resolve_org_scope() -> None:
    """before_request: replace view_args['org'] with the caller's OrgScope."""
    view_args = request.view_args
    if not view_args or "org" not in view_args or isinstance(view_args["org"], OrgScope):
        return
    principal = await require_principal()
    org_ref = str(view_args["org"])
    if principal.api_key is not None:
        scope = await _api_key_scope(principal, org_ref)
    else:
        found = await load_org_and_role(org_ref, principal.user_id, prefetch=True)
        scope = None
        meta, role = found if found is not None else (None, None)
        if meta is not None and role is not None:
            if meta.require_2fa and not await _has_2fa(principal.user_id):
                raise APIError(403, "2fa_required", "This organisation requires two-factor authentication.")
            scope = OrgScope(id=meta.id, slug=meta.slug, name=meta.name, role=role, user_id=principal.user_id)
    if scope is None:
        raise APIError(404, "org_not_found", "No such organisation.")
    if request.method not in SAFE_METHODS and not scope.can_write and not _viewer_allowed():
        raise APIError(403, "read_only", "Viewers cannot make changes.")
    view_args["org"] = scope


VIEWER_ALLOWED = "_tinycrm_viewer_allowed"
F = TypeVar("F", bound=Callable[..., Any])


def viewer_allowed(func: F) -> F:
    """A write that changes only the caller's own state (read marks, own settings, leaving):
    viewers may make it too. The route still checks what the caller may touch."""
    setattr(func, VIEWER_ALLOWED, True)
    return func


def _viewer_allowed() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, VIEWER_ALLOWED, False))
