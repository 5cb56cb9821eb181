"""What GET /me shows, from the cache.

Two kinds of cached views make it up, each read under its generations before PostgreSQL:

- the user's own entry (`me`, owner `UserScope(user)`): profile fields and the ids of their
  orgs, under the user's `me` generation, which every write changing them bumps after commit
  (`tx.invalidate_user(user_id, "me")`: profile, email verification, 2FA, joining, leaving);
- per listed org, the org guard's metadata and role views (crm.tenancy.scope), under the
  org's `org` and `members` generations: a rename or a role change bumps only those, and every
  member's /me sees it without a fan-out over the members.
"""

from __future__ import annotations

from typing import Any

from databases import Database

from crm import cache
from crm.auth import queries
from crm.errors import APIError
from crm.tenancy import queries as tenancy_queries
from crm.tenancy import scope

ME_DOMAINS = ("me",)


def user_out(user: Any) -> dict[str, Any]:
    return {
        "id": user["id"],
        "email": user["email"],
        "name": user["name"],
        "email_verified": user["email_verified_at"] is not None,
        "created_at": user["created_at"],
    }


async def _select_own(db: Database, user_id: int) -> dict[str, Any] | None:
    user = await queries.select_user(db, user_id=user_id)
    if user is None:
        return None
    return {
        "user": {**user_out(user), "two_factor_enabled": user["totp_enabled_at"] is not None},
        "org_ids": await tenancy_queries.select_org_ids_of_user(db, user_id=user_id),
    }


async def me(db: Database, *, user_id: int) -> dict[str, Any]:
    """The signed-in user and `orgs: [{id, slug, name, role}]`, as fresh as every finished write."""
    own = await cache.cached_for_user(
        user_id=user_id,
        kind="me",
        depends=ME_DOMAINS,
        params={},
        ttl=cache.TTL_RECORD,
        compute=lambda: _select_own(db, user_id),
    )
    if own is None:
        raise APIError(401, "not_authenticated", "Sign in to continue.")
    return {**own["user"], "orgs": await scope.org_summaries(user_id, own["org_ids"])}
