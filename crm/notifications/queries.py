"""SQL for the notification inbox and notification settings."""

from __future__ import annotations

from typing import Any

import orjson
from databases import Database

from crm.db import Row

COLUMNS = "n.id, n.org_id, n.kind, n.title, n.body, n.data, n.read_at, n.created_at"


async def insert_notification(
    db: Database, *, org_id: int, user_id: int, kind: str, title: str, body: str, data: dict[str, Any]
) -> Row:
    row = await db.fetch_one(
        "INSERT INTO notifications AS n (org_id, user_id, kind, title, body, data)"
        f" VALUES (:org, :user, :kind, :title, :body, CAST(:data AS jsonb)) RETURNING {COLUMNS}",
        {
            "org": org_id,
            "user": user_id,
            "kind": kind,
            "title": title[:300],
            "body": body,
            "data": orjson.dumps(data).decode(),
        },
    )
    assert row is not None
    return row._mapping


async def select_page(
    db: Database, *, org_id: int | None, user_id: int, unread_only: bool, before_id: int | None, limit: int
) -> list[Row]:
    """Newest first. Without an org: every org the user is in, and invitations from others."""
    where = "n.org_id = :org" if org_id is not None else _ANY_ORG
    params: dict[str, Any] = {"user": user_id, "before": before_id or 2**63 - 1, "limit": limit}
    if org_id is not None:
        params["org"] = org_id
    rows = await db.fetch_all(
        f"SELECT {COLUMNS} FROM notifications n WHERE {where} AND n.user_id = :user"
        + (" AND n.read_at IS NULL" if unread_only else "")
        + " AND n.id < :before ORDER BY n.id DESC LIMIT :limit",
        params,
    )
    return [row._mapping for row in rows]


_ANY_ORG = (
    "(n.kind = 'invitation' OR EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = n.org_id AND m.user_id = :user))"
)


async def count_unread(db: Database, *, org_id: int | None, user_id: int) -> int:
    where = "n.org_id = :org" if org_id is not None else _ANY_ORG
    params: dict[str, Any] = {"user": user_id}
    if org_id is not None:
        params["org"] = org_id
    value = await db.fetch_val(
        f"SELECT count(*) FROM notifications n WHERE {where} AND n.user_id = :user AND n.read_at IS NULL", params
    )
    return int(value or 0)


async def mark_read(db: Database, *, org_id: int | None, user_id: int, ids: list[int] | None) -> list[int]:
    """Mark these (or all) unread notifications of the user read; the ids that changed."""
    where = "n.org_id = :org" if org_id is not None else _ANY_ORG
    params: dict[str, Any] = {"user": user_id}
    if org_id is not None:
        params["org"] = org_id
    only = ""
    if ids is not None:
        only = " AND n.id = ANY(CAST(:ids AS bigint[]))"
        params["ids"] = ids
    rows = await db.fetch_all(
        f"UPDATE notifications n SET read_at = now() WHERE {where} AND n.user_id = :user AND n.read_at IS NULL"
        f"{only} RETURNING n.id, n.org_id",
        params,
    )
    return [row["id"] for row in rows]


async def select_prefs(db: Database, *, org_id: int, user_id: int) -> dict[str, Any]:
    row = await db.fetch_one(
        "SELECT notify_deal_won FROM notification_prefs WHERE org_id = :org AND user_id = :user",
        {"org": org_id, "user": user_id},
    )
    return {"notify_deal_won": row["notify_deal_won"] if row else True}


async def upsert_prefs(db: Database, *, org_id: int, user_id: int, notify_deal_won: bool) -> None:
    await db.execute(
        "INSERT INTO notification_prefs (org_id, user_id, notify_deal_won) VALUES (:org, :user, :won)"
        " ON CONFLICT (org_id, user_id) DO UPDATE SET notify_deal_won = EXCLUDED.notify_deal_won, updated_at = now()",
        {"org": org_id, "user": user_id, "won": notify_deal_won},
    )


async def select_deal_won_recipients(db: Database, *, org_id: int, except_user: int | None) -> list[int]:
    """Members who want to hear about won deals (the default), except the one who won it."""
    rows = await db.fetch_all(
        "SELECT m.user_id FROM memberships m LEFT JOIN notification_prefs p"
        " ON p.org_id = m.org_id AND p.user_id = m.user_id"
        " WHERE m.org_id = :org AND coalesce(p.notify_deal_won, true)"
        " AND m.user_id IS DISTINCT FROM :except ORDER BY m.user_id",
        {"org": org_id, "except": except_user},
    )
    return [row["user_id"] for row in rows]


async def select_user_name(db: Database, *, user_id: int | None) -> str:
    if user_id is None:
        return "Someone"
    name = await db.fetch_val("SELECT name FROM users WHERE id = :id", {"id": user_id})
    return str(name) if name else "Someone"


async def select_org_name(db: Database, *, org_id: int) -> str:
    return str(await db.fetch_val("SELECT name FROM orgs WHERE id = :org", {"org": org_id}) or "")


async def select_user_id_by_email(db: Database, *, email: str) -> int | None:
    return await db.fetch_val("SELECT id FROM users WHERE lower(email) = lower(:email)", {"email": email})


async def is_member(db: Database, *, org_id: int, user_id: int) -> bool:
    return bool(
        await db.fetch_val(
            "SELECT 1 FROM memberships WHERE org_id = :org AND user_id = :user", {"org": org_id, "user": user_id}
        )
    )


async def claim_due_activities(db: Database, *, now: Any, horizon: Any, grace: Any, limit: int) -> list[Row]:
    """Mark a batch of due, unreminded activities reminded (skipping rows another worker holds)."""
    rows = await db.fetch_all(
        "WITH due AS (SELECT org_id, id FROM activities"
        " WHERE NOT done AND reminded_at IS NULL AND owner_id IS NOT NULL AND due_at IS NOT NULL"
        " AND due_at <= :horizon AND due_at > :grace ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " UPDATE activities a SET reminded_at = :now FROM due WHERE a.org_id = due.org_id AND a.id = due.id"
        " RETURNING a.org_id, a.id, a.type, a.subject, a.due_at, a.owner_id, a.deal_id, a.contact_id, a.company_id",
        {"now": now, "horizon": horizon, "grace": grace, "limit": limit},
    )
    return [row._mapping for row in rows]
