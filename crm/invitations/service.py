"""Invitations: admins invite an address with a role; the holder of the link joins.

The link's token is single use: its SHA-256 is the invitation row's `token_hash`
(durable) and a Redis key with the invitation's 7-day TTL, consumed with GETDEL.
The invited address must be the accepting user's (case-insensitively).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from databases import Database
from quart import current_app

from crm.auth import onetime
from crm.db import Row
from crm.errors import APIError
from crm.http import decode_cursor, encode_cursor
from crm.invitations import queries
from crm.mail import mailer
from crm.notifications import service as notifications
from crm.redis import RedisHub
from crm.tenancy import queries as tenancy_queries
from crm.tenancy.scope import OrgScope
from crm.uow import WriteTransaction, write_transaction

PURPOSE = "invite"


def invitation_out(row: Row) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "email", "role", "invited_by", "created_at", "expires_at")}


async def create_invitation(db: Database, hub: RedisHub, *, org: OrgScope, email: str, role: str) -> dict[str, Any]:
    """Invite an address (admins; owners for the owner role); a pending invitation of the same
    address is replaced. Mails the link."""
    org.require("admin")
    if role == "owner":
        org.require("owner")
    token, digest = onetime.new_token()
    async with write_transaction(db) as tx:
        member = await db.fetch_val(
            "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.org_id = :org AND lower(u.email) = lower(:email)",
            {"org": org.id, "email": email},
        )
        if member:
            raise APIError(409, "already_member", "That user is already a member.", fields={"email": "is a member"})
        replaced = await queries.revoke_pending_for_email(db, org_id=org.id, email=email)
        row = await queries.insert_invitation(
            db,
            org_id=org.id,
            email=email,
            role=role,
            token_hash=digest,
            invited_by=org.user_id,
            ttl=onetime.INVITATION_TTL,
        )
        await notifications.notify_invitation(
            tx, org_id=org.id, email=email, inviter_id=org.user_id, role=role, invitation_id=row["id"]
        )
    for old in replaced:
        await onetime.discard(hub, PURPOSE, old)
    await hub.guarded(
        lambda c: c.set(onetime.token_key(PURPOSE, digest), str(row["id"]).encode(), ex=onetime.INVITATION_TTL),
        None,
    )
    base_url = current_app.config["TINYCRM"].base_url
    await mailer.send(
        mailer.Message(
            to=email,
            subject=f"You are invited to {org.name} on TinyCRM",
            text=(
                f"You have been invited to join {org.name} on TinyCRM as {role}.\n\n"
                f"Accept the invitation (sign up or sign in with this address):\n"
                f"{base_url}/invite?token={quote(token)}\n\nThe link works once, for 7 days."
            ),
        )
    )
    return invitation_out(row)


async def list_pending(db: Database, *, org: OrgScope, limit: int, cursor: str | None) -> dict[str, Any]:
    org.require("admin")
    after = decode_cursor(cursor, length=1)
    after_id = after[0] if after else None
    if after_id is not None and not isinstance(after_id, int):
        raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor"})
    rows = await queries.select_pending_page(db, org_id=org.id, after_id=after_id, limit=limit + 1)
    items = [invitation_out(row) for row in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_cursor": encode_cursor([items[-1]["id"]]) if more else None}


async def revoke_invitation(db: Database, hub: RedisHub, *, org: OrgScope, invitation_id: int) -> None:
    org.require("admin")
    digest = await queries.revoke_invitation(db, org_id=org.id, invitation_id=invitation_id)
    if digest is None:
        raise APIError(404, "invitation_not_found", "No such pending invitation.")
    await onetime.discard(hub, PURPOSE, digest)


def _invalid() -> APIError:
    return APIError(400, "invalid_token", "The invitation is invalid, used, revoked or expired.")


async def accept_in_transaction(tx: WriteTransaction, *, token: str, user_id: int, email: str) -> dict[str, Any]:
    """Join the invitation's org within the caller's transaction; the org joined, with the role."""
    if not token or len(token) > 128:
        raise _invalid()
    digest = onetime.token_hash(token)
    claimed = await tx.hub.guarded(lambda c: c.getdel(onetime.token_key(PURPOSE, digest)), None)
    # Redis's key carries the TTL and the single use; PostgreSQL's row is the truth if Redis lost it
    invitation = await queries.select_invitation_for_update(tx.db, token_hash=digest)
    if invitation is None or (claimed is not None and int(claimed) != invitation["id"]):
        raise _invalid()
    if not hmac.compare_digest(invitation["token_hash"], digest):
        raise _invalid()
    if invitation["email"].lower() != email.lower():
        raise APIError(403, "invitation_email_mismatch", "This invitation was sent to another address.")
    org_id = invitation["org_id"]
    if not await tenancy_queries.insert_membership(tx.db, org_id=org_id, user_id=user_id, role=invitation["role"]):
        raise APIError(409, "already_member", "You are already a member of this organisation.")
    await queries.mark_accepted(tx.db, org_id=org_id, invitation_id=invitation["id"], user_id=user_id)
    member = await tenancy_queries.select_member_for_update(tx.db, org_id=org_id, user_id=user_id)
    assert member is not None
    await tx.event(org_id, "member.changed", actor=user_id, data={**member, "change": "added"})
    tx.invalidate(org_id, "members")
    tx.invalidate_user(user_id, "me")  # a new org in their /me (and, accepting, a verified email)
    return {"id": org_id, "slug": invitation["org_slug"], "name": invitation["org_name"], "role": invitation["role"]}


async def accept_invitation(db: Database, *, token: str, user_id: int) -> dict[str, Any]:
    """A signed-in user accepts: joins the org with the invited role."""
    async with write_transaction(db) as tx:
        email = await db.fetch_val("SELECT email FROM users WHERE id = :id", {"id": user_id})
        if email is None:
            raise APIError(401, "not_authenticated")
        joined = await accept_in_transaction(tx, token=token, user_id=user_id, email=email)
        # the link reached this address, which proves it
        await db.execute(
            "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = :id",
            {"id": user_id},
        )
    return joined
