"""SQL for invitations."""

from __future__ import annotations

from databases import Database

from crm.db import Row

INVITATION_COLUMNS = "i.id, i.org_id, i.email, i.role, i.invited_by, i.created_at, i.expires_at"
PENDING = "i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()"


async def insert_invitation(
    db: Database, *, org_id: int, email: str, role: str, token_hash: str, invited_by: int, ttl: int
) -> Row:
    row = await db.fetch_one(
        "INSERT INTO invitations AS i (org_id, email, role, token_hash, invited_by, expires_at)"
        " VALUES (:org, :email, :role, :hash, :by, now() + make_interval(secs => :ttl))"
        f" RETURNING {INVITATION_COLUMNS}",
        {"org": org_id, "email": email, "role": role, "hash": token_hash, "by": invited_by, "ttl": ttl},
    )
    assert row is not None
    return row._mapping


async def revoke_pending_for_email(db: Database, *, org_id: int, email: str) -> list[str]:
    """Revoke the org's pending invitations of this address; their token hashes."""
    rows = await db.fetch_all(
        "UPDATE invitations i SET revoked_at = now()"
        f" WHERE i.org_id = :org AND lower(i.email) = lower(:email) AND {PENDING} RETURNING i.token_hash",
        {"org": org_id, "email": email},
    )
    return [row["token_hash"] for row in rows]


async def select_pending_page(db: Database, *, org_id: int, after_id: int | None, limit: int) -> list[Row]:
    rows = await db.fetch_all(
        f"SELECT {INVITATION_COLUMNS} FROM invitations i"
        f" WHERE i.org_id = :org AND {PENDING} AND i.id > :after ORDER BY i.id LIMIT :limit",
        {"org": org_id, "after": after_id or 0, "limit": limit},
    )
    return [row._mapping for row in rows]


async def revoke_invitation(db: Database, *, org_id: int, invitation_id: int) -> str | None:
    """Revoke one pending invitation; its token hash, or None if there is no such pending one."""
    return await db.fetch_val(
        "UPDATE invitations i SET revoked_at = now()"
        f" WHERE i.org_id = :org AND i.id = :id AND {PENDING} RETURNING i.token_hash",
        {"org": org_id, "id": invitation_id},
    )


async def select_invitation_for_update(db: Database, *, token_hash: str) -> Row | None:
    """The pending invitation with this token hash, locked, with its org."""
    row = await db.fetch_one(
        f"SELECT {INVITATION_COLUMNS}, i.token_hash, o.slug AS org_slug, o.name AS org_name"
        " FROM invitations i JOIN orgs o ON o.id = i.org_id"
        f" WHERE i.token_hash = :hash AND {PENDING} FOR UPDATE OF i",
        {"hash": token_hash},
    )
    return row._mapping if row else None


async def mark_accepted(db: Database, *, org_id: int, invitation_id: int, user_id: int) -> None:
    await db.execute(
        "UPDATE invitations SET accepted_at = now(), accepted_by = :user WHERE org_id = :org AND id = :id",
        {"org": org_id, "id": invitation_id, "user": user_id},
    )
