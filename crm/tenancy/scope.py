"""The org-scope guard: `<org>` in a path becomes an `OrgScope` or a 404.

One app-wide `before_request` runs it for every route with `<org>`, so a new
route cannot forget it. Non-members get 404 (never 403 across orgs); viewers
get 403 on writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from quart import request

from crm.auth.guard import SAFE_METHODS, require_principal
from crm.db import get_db
from crm.errors import APIError

ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True)
class OrgScope:
    """An org the caller belongs to, and the caller's role in it. Tenant SQL takes `id` from here."""

    id: int
    slug: str
    name: str
    role: str
    user_id: int

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: str) -> None:
        if not self.at_least(role):
            raise APIError(403, "forbidden", f"This needs the {role} role or higher.")

    @property
    def can_write(self) -> bool:
        return self.at_least("member")


async def select_membership(org_ref: str, user_id: int) -> OrgScope | None:
    db = get_db()
    column = "o.id" if org_ref.isdigit() else "o.slug"
    if org_ref.isdigit() and int(org_ref) >= 2**63:
        return None
    row = await db.fetch_one(
        f"SELECT o.id, o.slug, o.name, m.role FROM orgs o"
        f" JOIN memberships m ON m.org_id = o.id AND m.user_id = :user_id WHERE {column} = :ref",
        {"user_id": user_id, "ref": int(org_ref) if org_ref.isdigit() else org_ref.lower()},
    )
    if row is None:
        return None
    return OrgScope(id=row["id"], slug=row["slug"], name=row["name"], role=row["role"], user_id=user_id)


async def resolve_org_scope() -> None:
    """before_request: replace view_args['org'] with the caller's OrgScope."""
    view_args = request.view_args
    if not view_args or "org" not in view_args or isinstance(view_args["org"], OrgScope):
        return
    principal = await require_principal()
    org_ref = str(view_args["org"])
    scope = await select_membership(org_ref, principal.user_id) if len(org_ref) <= 64 else None
    if scope is None:
        raise APIError(404, "org_not_found", "No such organisation.")
    if request.method not in SAFE_METHODS and not scope.can_write:
        raise APIError(403, "read_only", "Viewers cannot make changes.")
    view_args["org"] = scope
