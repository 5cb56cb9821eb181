"""Creating, listing and revoking an org's API keys (admins only)."""

from __future__ import annotations

from typing import Any

from databases import Database

from crm.apikeys import keys, queries
from crm.apikeys.keys import ApiKey
from crm.db import Row
from crm.errors import APIError
from crm.tenancy import queries as tenancy_queries
from crm.tenancy.scope import ROLE_RANK, OrgScope


def _require_key_admin(org: OrgScope) -> None:
    org.require("admin")
    if org.via_api_key:
        raise APIError(403, "api_key_not_allowed", "API keys cannot manage API keys.")


async def create_api_key(db: Database, *, org: OrgScope, name: str, role: str) -> tuple[Row, str]:
    """A new key with at most the caller's role; the full key is returned only here."""
    _require_key_admin(org)
    if ROLE_RANK[role] > ROLE_RANK[org.role]:
        raise APIError(
            403, "role_too_high", "A key cannot have a higher role than yours.", fields={"role": "above your role"}
        )
    prefix, token = keys.new_key()
    row = await queries.insert_api_key(
        db, org_id=org.id, prefix=prefix, secret_hash=keys.hash_key(token), name=name, role=role, created_by=org.user_id
    )
    return row, token


async def list_api_keys(db: Database, *, org: OrgScope) -> list[Row]:
    _require_key_admin(org)
    return await queries.select_api_keys(db, org_id=org.id)


async def revoke_api_key(db: Database, *, org: OrgScope, key_id: int) -> None:
    """Revoked keys stop working at once (the guard reads PostgreSQL on every use)."""
    _require_key_admin(org)
    if not await queries.revoke_api_key(db, org_id=org.id, key_id=key_id):
        raise APIError(404, "api_key_not_found", "No such API key.")


async def api_key_identity(db: Database, key: ApiKey) -> dict[str, Any]:
    """GET /me for an API key: the key and its org (with the key's role)."""
    org = await tenancy_queries.select_org(db, org_id=key.org_id)
    assert org is not None  # the key's row cascades away with its org
    return {
        "api_key": {"id": key.id, "name": key.name, "prefix": key.prefix, "role": key.role},
        "org": {"id": org["id"], "slug": org["slug"], "name": org["name"], "role": key.role},
    }
