"""The notification inbox: create (with a live `notification.created` event), list, mark read.

Other features call the `notify_*` functions inside their own write transaction
(`tx` is `crm.uow.WriteTransaction`), so a notification exists exactly when the
change that caused it committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson
from databases import Database
from quart import has_app_context

from crm.errors import APIError
from crm.http import decode_cursor, encode_cursor
from crm.notifications import queries
from crm.redis import RedisHub
from crm.tenancy.scope import OrgScope
from crm.uow import WriteTransaction, write_transaction

log = logging.getLogger(__name__)

KINDS = ("mention", "deal_assigned", "deal_won", "invitation", "activity_due")
REMINDER_WINDOW = timedelta(minutes=15)
# Reminders missed while no worker ran are still sent if the activity fell due this recently.
REMINDER_GRACE = timedelta(hours=1)
REMINDER_BATCH = 500


def notification_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out["data"], (str, bytes)):  # jsonb arrives as text
        out["data"] = orjson.loads(out["data"])
    out["read"] = out["read_at"] is not None
    return out


async def notify(
    tx: WriteTransaction,
    *,
    org_id: int,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    actor: int | None = None,
) -> dict[str, Any]:
    """Store a notification for one user and emit `notification.created` to that user only."""
    assert kind in KINDS, kind
    row = await queries.insert_notification(
        tx.db, org_id=org_id, user_id=user_id, kind=kind, title=title, body=body, data=data or {}
    )
    out = notification_out(row)
    await tx.event(
        org_id, "notification.created", actor=actor, data=out, audience={"scope": "users", "user_ids": [user_id]}
    )
    return out


async def notify_mentions(
    tx: WriteTransaction,
    *,
    org_id: int,
    user_ids: list[int],
    author_id: int,
    channel: Mapping[str, Any],
    message: Mapping[str, Any],
) -> None:
    """A `mention` notification for each mentioned user (never the author)."""
    targets = [uid for uid in user_ids if uid != author_id]
    if not targets:
        return
    author = await queries.select_user_name(tx.db, user_id=author_id)
    where = f"#{channel['name']}" if channel.get("name") else ("a deal thread" if channel["kind"] == "deal" else "a DM")
    for user_id in targets:
        await notify(
            tx,
            org_id=org_id,
            user_id=user_id,
            kind="mention",
            title=f"{author} mentioned you in {where}",
            body=message["body"][:280],
            data={"channel_id": channel["id"], "message_id": message["id"], "deal_id": channel.get("deal_id")},
            actor=author_id,
        )


async def notify_deal_assigned(
    tx: WriteTransaction,
    *,
    org_id: int,
    deal: Mapping[str, Any],
    actor: int | None,
    previous_owner_id: int | None = None,
) -> None:
    """Call when a deal's owner_id is set (create or update): tells the new owner, unless they did it."""
    owner = deal.get("owner_id")
    if owner is None or owner in (actor, previous_owner_id):
        return
    by = await queries.select_user_name(tx.db, user_id=actor)
    await notify(
        tx,
        org_id=org_id,
        user_id=int(owner),
        kind="deal_assigned",
        title=f"{by} assigned you the deal {deal.get('title', '')}".strip(),
        data={"deal_id": deal["id"]},
        actor=actor,
    )


async def notify_deal_won(tx: WriteTransaction, *, org_id: int, deal: Mapping[str, Any], actor: int | None) -> None:
    """Call when a deal becomes won: tells every member with `notify_deal_won` on (default), but the actor."""
    by = await queries.select_user_name(tx.db, user_id=actor)
    for user_id in await queries.select_deal_won_recipients(tx.db, org_id=org_id, except_user=actor):
        await notify(
            tx,
            org_id=org_id,
            user_id=user_id,
            kind="deal_won",
            title=f"Deal won: {deal.get('title', '')}".strip(),
            body=f"{by} won it.",
            data={"deal_id": deal["id"], "amount": deal.get("amount"), "currency": deal.get("currency")},
            actor=actor,
        )


async def notify_deal_changes(
    tx: WriteTransaction,
    *,
    org_id: int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    actor: int | None,
) -> None:
    """Call after a deal is created (before=None), updated or moved: assignment and won notifications."""
    await notify_deal_assigned(
        tx, org_id=org_id, deal=after, actor=actor, previous_owner_id=before["owner_id"] if before else None
    )
    if after.get("won_at") is not None and (before is None or before.get("won_at") is None):
        await notify_deal_won(tx, org_id=org_id, deal=after, actor=actor)


async def notify_invitation(
    tx: WriteTransaction,
    *,
    org_id: int,
    email: str,
    inviter_id: int | None,
    role: str,
    invitation_id: int | None = None,
) -> None:
    """Call when an invitation is created: an existing user with that email (not yet a member) is told."""
    user_id = await queries.select_user_id_by_email(tx.db, email=email)
    if user_id is None or await queries.is_member(tx.db, org_id=org_id, user_id=user_id):
        return
    by = await queries.select_user_name(tx.db, user_id=inviter_id)
    org_name = await queries.select_org_name(tx.db, org_id=org_id)
    await notify(
        tx,
        org_id=org_id,
        user_id=user_id,
        kind="invitation",
        title=f"{by} invited you to {org_name}",
        body=f"Role: {role}",
        data={"invitation_id": invitation_id, "org_id": org_id, "role": role},
        actor=inviter_id,
    )


async def send_due_reminders(db: Database, hub: RedisHub, now: datetime) -> int:
    """Notify the owners of activities due within the next 15 minutes, once each; the number sent.

    For `tinycrm worker` (call every minute or so). Safe with several workers
    (rows are claimed with SKIP LOCKED). Inside an app context the events are
    published at once; otherwise the outbox relay publishes them.
    """
    sent = 0
    while True:
        tx = WriteTransaction(db, hub)
        async with db.transaction():
            due = await queries.claim_due_activities(
                db, now=now, horizon=now + REMINDER_WINDOW, grace=now - REMINDER_GRACE, limit=REMINDER_BATCH
            )
            for activity in due:
                await notify(
                    tx,
                    org_id=activity["org_id"],
                    user_id=activity["owner_id"],
                    kind="activity_due",
                    title=f"Due soon: {activity['subject']}",
                    body=f"{activity['type'].capitalize()} due at {activity['due_at'].isoformat()}",
                    data={
                        "activity_id": activity["id"],
                        "due_at": activity["due_at"].isoformat(),
                        "deal_id": activity["deal_id"],
                        "contact_id": activity["contact_id"],
                        "company_id": activity["company_id"],
                    },
                )
            await tx.before_commit()
        if has_app_context():
            await tx.after_commit()
        sent += len(due)
        if len(due) < REMINDER_BATCH:
            return sent


async def list_notifications(
    db: Database, *, org: OrgScope | None, user_id: int, unread_only: bool, cursor: str | None, limit: int
) -> dict[str, Any]:
    """A page of the user's notifications (newest first) and their unread count."""
    keyset = decode_cursor(cursor, length=1)
    before = _cursor_id(keyset)
    org_id = org.id if org else None
    rows = await queries.select_page(
        db, org_id=org_id, user_id=user_id, unread_only=unread_only, before_id=before, limit=limit + 1
    )
    more = len(rows) > limit
    items = [notification_out(r) for r in rows[:limit]]
    return {
        "items": items,
        "next_cursor": encode_cursor([items[-1]["id"]]) if more and items else None,
        "unread_count": await queries.count_unread(db, org_id=org_id, user_id=user_id),
    }


async def mark_read(
    db: Database, *, org: OrgScope | None, user_id: int, ids: list[int] | None, mark_all: bool
) -> dict[str, Any]:
    """Mark some (ids) or all of the user's notifications read; ids that are not theirs are ignored."""
    if not mark_all and ids is None:
        raise APIError(422, "validation_error", fields={"ids": "give ids or all: true"})
    org_id = org.id if org else None
    async with write_transaction(db) as tx:
        changed = await queries.mark_read(db, org_id=org_id, user_id=user_id, ids=None if mark_all else ids)
        if changed and org is not None:
            await tx.event(
                org.id,
                "notification.read",
                actor=user_id,
                data={"ids": changed},
                audience={"scope": "users", "user_ids": [user_id]},
            )
    return {"updated": len(changed), "unread_count": await queries.count_unread(db, org_id=org_id, user_id=user_id)}


async def get_settings(db: Database, *, org: OrgScope) -> dict[str, Any]:
    return await queries.select_prefs(db, org_id=org.id, user_id=org.user_id)


async def update_settings(db: Database, *, org: OrgScope, notify_deal_won: bool) -> dict[str, Any]:
    async with write_transaction(db):
        await queries.upsert_prefs(db, org_id=org.id, user_id=org.user_id, notify_deal_won=notify_deal_won)
    return await queries.select_prefs(db, org_id=org.id, user_id=org.user_id)


def _cursor_id(keyset: list[Any] | None) -> int | None:
    if keyset is None:
        return None
    value = keyset[0]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor"})
    return value
