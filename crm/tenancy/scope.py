"""The org-scope guard: `<org>` in a path becomes an `OrgScope` or a 404.

One app-wide `before_request` runs it for every route with `<org>`, so a new
route cannot forget it. Non-members get 404 (never 403 across orgs); viewers
get 403 on writes; an org that requires 2FA refuses members without it (403).

The caller's role is cached in Redis under the org's "members" generation and
the org's metadata under its "org" generation (both bumped after commit by the
writers), so a role change or removal is seen by every instance on its next
request. Generations are read before PostgreSQL, so a stale answer is stored
under an old generation and never served. Redis down: PostgreSQL answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from quart import request

from crm.auth.guard import SAFE_METHODS, Principal, require_principal
from crm.cache import generation_key
from crm.db import get_db
from crm.errors import APIError
from crm.redis import get_redis

ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
CACHE_TTL = 300  # permissions: 5 min, a safety net behind the generations
NOT_MEMBER = "-"


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


def slug_key(slug: str) -> str:
    return f"tc:orgslug:{slug}"


def meta_key(org_id: int, generation: int) -> str:
    return f"tc:{org_id}:org:{generation}:meta"


def member_key(org_id: int, generation: int, user_id: int) -> str:
    return f"tc:{org_id}:members:{generation}:{user_id}"


def _valid_ref(org_ref: str) -> bool:
    if not org_ref or len(org_ref) > 64:
        return False
    return not org_ref.isdigit() or 0 < int(org_ref) < 2**63


async def _org_id_of(org_ref: str) -> int | None:
    if org_ref.isdigit():
        return int(org_ref)
    cached = await get_redis().guarded(lambda c: c.get(slug_key(org_ref)), None)
    return int(cached) if cached else None


async def _generations(org_id: int) -> tuple[int, int] | None:
    raw = await get_redis().guarded(
        lambda c: c.mget(generation_key(org_id, "org"), generation_key(org_id, "members")), None
    )
    if raw is None:
        return None
    return int(raw[0] or 0), int(raw[1] or 0)


async def _select_org_and_role(org_ref: str, user_id: int) -> dict[str, Any] | None:
    column = "o.id" if org_ref.isdigit() else "o.slug"
    row = await get_db().fetch_one(
        f"SELECT o.id, o.slug, o.name, o.require_2fa, m.role FROM orgs o"
        f" LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = :user_id WHERE {column} = :ref",
        {"user_id": user_id, "ref": int(org_ref) if org_ref.isdigit() else org_ref},
    )
    return dict(row._mapping) if row else None


async def load_org_and_role(org_ref: str, user_id: int) -> tuple[OrgMeta, str | None] | None:
    """The org named by slug or id and the user's role in it (None: not a member); None if no such org."""
    org_ref = org_ref.lower()
    if not _valid_ref(org_ref):
        return None
    hub = get_redis()
    org_id = await _org_id_of(org_ref)
    generations = await _generations(org_id) if org_id is not None else None
    if org_id is not None and generations is not None:
        keys = [meta_key(org_id, generations[0]), member_key(org_id, generations[1], user_id)]
        missing: list[bytes | str | None] = [None, None]
        raw_meta, raw_role = await hub.guarded(lambda c: c.mget(*keys), missing)
        if raw_meta and raw_role:
            meta = OrgMeta(**orjson.loads(raw_meta))
            if org_ref.isdigit() or meta.slug == org_ref:
                role = raw_role.decode() if isinstance(raw_role, bytes) else raw_role
                return meta, None if role == NOT_MEMBER else role
    row = await _select_org_and_role(org_ref, user_id)
    if row is None:
        return None
    meta = OrgMeta(id=row["id"], slug=row["slug"], name=row["name"], require_2fa=row["require_2fa"])
    await _remember(meta, row["role"], user_id, generations if org_id == meta.id else None)
    return meta, row["role"]


async def _remember(meta: OrgMeta, role: str | None, user_id: int, generations: tuple[int, int] | None) -> None:
    """Cache the slug, and (only under generations read before the query) the org and the role."""

    async def store(client: Any) -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(slug_key(meta.slug), meta.id, ex=CACHE_TTL)
            if generations is not None:
                pipe.set(meta_key(meta.id, generations[0]), orjson.dumps(meta.__dict__), ex=CACHE_TTL)
                pipe.set(member_key(meta.id, generations[1], user_id), role or NOT_MEMBER, ex=CACHE_TTL)
            await pipe.execute()

    await get_redis().guarded(store, None)


async def select_membership(org_ref: str, user_id: int) -> OrgScope | None:
    """The user's scope in the org named by slug or id, or None when it is not theirs."""
    found = await load_org_and_role(org_ref, user_id)
    if found is None:
        return None
    meta, role = found
    if role is None:
        return None
    return OrgScope(id=meta.id, slug=meta.slug, name=meta.name, role=role, user_id=user_id)


async def _api_key_scope(principal: Principal, org_ref: str) -> OrgScope | None:
    key = principal.api_key
    assert key is not None
    found = await load_org_and_role(org_ref, principal.user_id)
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
        found = await load_org_and_role(org_ref, principal.user_id)
        scope = None
        meta, role = found if found is not None else (None, None)
        if meta is not None and role is not None:
            if meta.require_2fa and not await _has_2fa(principal.user_id):
                raise APIError(403, "2fa_required", "This organisation requires two-factor authentication.")
            scope = OrgScope(id=meta.id, slug=meta.slug, name=meta.name, role=role, user_id=principal.user_id)
    if scope is None:
        raise APIError(404, "org_not_found", "No such organisation.")
    if request.method not in SAFE_METHODS and not scope.can_write:
        raise APIError(403, "read_only", "Viewers cannot make changes.")
    view_args["org"] = scope
