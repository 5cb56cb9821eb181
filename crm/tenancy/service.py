"""Orgs and memberships: the rules, one transaction each, events after commit."""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

from databases import Database

from crm.auth import queries as user_queries
from crm.db import Row
from crm.errors import APIError
from crm.tenancy import queries
from crm.tenancy.scope import OrgScope
from crm.uow import write_transaction


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48]
    if len(slug) < 2 or slug.isdigit():
        slug = f"org-{slug}".strip("-")
    return slug


async def create_org(db: Database, *, user_id: int, name: str, slug: str | None, currency: str) -> dict[str, Any]:
    """Create an org with the default pipeline; the creator becomes its owner."""
    if slug is not None and slug.isdigit():
        raise APIError(422, "validation_error", fields={"slug": "must contain a letter"})
    async with write_transaction(db) as tx:
        candidate = slug or slugify(name)
        if await queries.slug_exists(db, candidate):
            if slug is not None:
                raise APIError(409, "slug_taken", "That address is taken.", fields={"slug": "is taken"})
            candidate = f"{candidate[:40]}-{secrets.token_hex(3)}"
        org = await queries.insert_org(db, slug=candidate, name=name, currency=currency)
        await queries.insert_membership(db, org_id=org["id"], user_id=user_id, role="owner")
        await queries.insert_default_stages(db, org_id=org["id"])
        tx.invalidate_user(user_id, "me")
    return {**org, "role": "owner"}


async def update_org(db: Database, *, org: OrgScope, changes: dict[str, Any], version: int | None) -> dict[str, Any]:
    org.require("admin")
    async with write_transaction(db) as tx:
        current = await db.fetch_one("SELECT version FROM orgs WHERE id = :org FOR UPDATE", {"org": org.id})
        assert current is not None
        if version is not None and version != current["version"]:
            row = await queries.select_org(db, org_id=org.id)
            raise APIError(409, "version_conflict", current={**dict(row or {}), "role": org.role})
        row = await queries.update_org(db, org_id=org.id, changes=changes) if changes else None
        row = row or await queries.select_org(db, org_id=org.id)
        assert row is not None
        out = {**row, "role": org.role}
        await tx.event(org.id, "org.updated", actor=org.user_id, data=_org_event(out))
        tx.invalidate(org.id, "org")
    return out


def _org_event(org: dict[str, Any]) -> dict[str, Any]:
    return {k: org[k] for k in ("id", "slug", "name", "currency", "require_2fa", "version")}


async def add_member(db: Database, *, org: OrgScope, email: str, role: str) -> Row:
    org.require("admin")
    if role == "owner":
        org.require("owner")
    async with write_transaction(db) as tx:
        user = await user_queries.select_user_by_email(db, email=email)
        if user is None:
            raise APIError(
                404,
                "user_not_found",
                "No user has that email. Invite them instead.",
                fields={"email": "no user with this email"},
            )
        if not await queries.insert_membership(db, org_id=org.id, user_id=user["id"], role=role):
            raise APIError(
                409,
                "already_member",
                "That user is already a member.",
                fields={"email": "is already a member"},
            )
        member = await queries.select_member_for_update(db, org_id=org.id, user_id=user["id"])
        assert member is not None
        await tx.event(org.id, "member.changed", actor=org.user_id, data={**member, "change": "added"})
        tx.invalidate(org.id, "members")
        tx.invalidate_user(user["id"], "me")
    return member


async def change_member_role(db: Database, *, org: OrgScope, user_id: int, role: str) -> Row:
    org.require("admin")
    async with write_transaction(db) as tx:
        owners = await queries.lock_owners(db, org_id=org.id)
        member = await queries.select_member_for_update(db, org_id=org.id, user_id=user_id)
        if member is None:
            raise APIError(404, "member_not_found", "No such member.")
        if "owner" in (role, member["role"]) and role != member["role"]:
            org.require("owner")  # only owners grant or take away ownership
        if member["role"] == "owner" and role != "owner" and owners <= 1:
            raise APIError(409, "last_owner", "An organisation needs at least one owner.")
        await queries.update_membership_role(db, org_id=org.id, user_id=user_id, role=role)
        member = {**member, "role": role}
        await tx.event(org.id, "member.changed", actor=org.user_id, data={**member, "change": "role"})
        tx.invalidate(org.id, "members")
    return member


async def remove_member(db: Database, *, org: OrgScope, user_id: int) -> None:
    if user_id != org.user_id:
        org.require("admin")  # anyone may leave; only admins remove others
    async with write_transaction(db) as tx:
        owners = await queries.lock_owners(db, org_id=org.id)
        member = await queries.select_member_for_update(db, org_id=org.id, user_id=user_id)
        if member is None:
            raise APIError(404, "member_not_found", "No such member.")
        if member["role"] == "owner":
            org.require("owner")
            if owners <= 1:
                raise APIError(409, "last_owner", "An organisation needs at least one owner.")
        await queries.delete_membership(db, org_id=org.id, user_id=user_id)
        await tx.event(org.id, "member.changed", actor=org.user_id, data={"user_id": user_id, "change": "removed"})
        # records they owned lose their owner (ON DELETE SET NULL): every cached view may change
        tx.invalidate(org.id, "members", "contacts", "companies", "deals", "activities", "dashboard")
        tx.invalidate_user(user_id, "me")
