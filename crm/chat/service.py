"""Team chat: channels, DMs, deal threads, messages, read positions, search.

The only place chat writes and emits. REST routes and socket handlers call the
same functions, so `chat:send` and `POST .../messages` behave alike.
Visibility: public and deal channels are open to every org member; private
channels and DMs exist only for their members (404 to anyone else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from databases import Database

from crm.chat import events, mentions, queries
from crm.db import Row
from crm.errors import APIError
from crm.http import decode_cursor, encode_cursor
from crm.notifications import service as notifications
from crm.tenancy.scope import OrgScope
from crm.uow import WriteTransaction, write_transaction

MAX_BODY_CHARS = 4000
MAX_DM_MEMBERS = 8
USER_FIELDS = ("last_read_message_id", "last_message_id", "unread_count")


def channel_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("is_member", "dm_key")}
    out["member_ids"] = list(out.get("member_ids") or [])
    out["unread_count"] = int(out.get("unread_count") or 0)
    return out


def message_out(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["mentions"] = list(out["mentions"] or [])
    return out


def clean_body(body: str) -> str:
    """The message text to store: trimmed, not empty, at most 4,000 characters."""
    body = body.strip()
    if not body:
        raise APIError(422, "validation_error", fields={"body": "must not be empty"})
    if "\x00" in body:
        raise APIError(422, "validation_error", fields={"body": "must not contain NUL characters"})
    if len(body) > MAX_BODY_CHARS:
        raise APIError(
            413,
            "message_too_large",
            f"Messages are limited to {MAX_BODY_CHARS} characters.",
            fields={"body": f"at most {MAX_BODY_CHARS} characters"},
        )
    return body


def _cursor_id(raw: str | None) -> int | None:
    keyset = decode_cursor(raw, length=1)
    if keyset is None:
        return None
    value = keyset[0]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor"})
    return value


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor([items[-1]["id"]]) if more and items else None}


async def visible_channel(db: Database, *, org: OrgScope, channel_id: int) -> dict[str, Any]:
    """The channel as the caller sees it, or 404 (also for private channels they are not in)."""
    row = await queries.select_channel_for_user(db, org_id=org.id, channel_id=channel_id, user_id=org.user_id)
    if row is None:
        raise APIError(404, "channel_not_found", "No such channel.")
    return channel_out(row)


async def can_see_channel(db: Database, *, org_id: int, user_id: int, channel_id: int) -> bool:
    """For realtime: may this user see this channel's events and presence?"""
    row = await queries.select_channel_for_user(db, org_id=org_id, channel_id=channel_id, user_id=user_id)
    return row is not None


def _require_open(channel: Mapping[str, Any]) -> None:
    if channel["archived"]:
        raise APIError(409, "channel_archived", "The channel is archived.")


async def _valid_members(db: Database, *, org: OrgScope, user_ids: list[int]) -> list[int]:
    wanted = sorted({int(u) for u in user_ids})
    found = await queries.select_org_member_ids(db, org_id=org.id, user_ids=wanted)
    missing = [u for u in wanted if u not in found]
    if missing:
        raise APIError(422, "validation_error", fields={"member_ids": f"not members of this org: {missing}"})
    return wanted


# --- channels -------------------------------------------------------------------------------------------


async def list_channels(
    db: Database, *, org: OrgScope, kind: str | None, archived: bool, cursor: str | None, limit: int
) -> dict[str, Any]:
    rows = await queries.select_channels_page(
        db,
        org_id=org.id,
        user_id=org.user_id,
        kind=kind,
        archived=archived,
        after_id=_cursor_id(cursor),
        limit=limit + 1,
    )
    return _page([channel_out(r) for r in rows], limit)


async def create_channel(
    db: Database, *, org: OrgScope, kind: str, name: str | None, member_ids: list[int]
) -> tuple[dict[str, Any], bool]:
    """A new public/private channel, or the DM for this member set (existing or new); (channel, created)."""
    members = await _valid_members(db, org=org, user_ids=[org.user_id, *member_ids])
    if kind == "dm":
        if name is not None:
            raise APIError(422, "validation_error", fields={"name": "DMs have no name"})
        if len(members) < 2:
            raise APIError(422, "validation_error", fields={"member_ids": "name at least one other member"})
        if len(members) > MAX_DM_MEMBERS:
            raise APIError(422, "validation_error", fields={"member_ids": f"a DM has at most {MAX_DM_MEMBERS} people"})
    elif name is None:
        raise APIError(422, "validation_error", fields={"name": "is required"})
    dm_key = ",".join(str(u) for u in members) if kind == "dm" else None
    async with write_transaction(db) as tx:
        channel_id = await queries.insert_channel(
            db, org_id=org.id, kind=kind, name=name, created_by=org.user_id, dm_key=dm_key
        )
        if channel_id is None:
            if dm_key is None:
                raise APIError(409, "name_taken", "A channel with that name exists.", fields={"name": "is taken"})
            existing = await queries.select_dm_id(db, org_id=org.id, dm_key=dm_key)
            assert existing is not None
            return await visible_channel(db, org=org, channel_id=existing), False
        await queries.insert_members(db, org_id=org.id, channel_id=channel_id, user_ids=members)
        channel = await visible_channel(db, org=org, channel_id=channel_id)
        await _channel_event(tx, org, "created", channel)
    return channel, True


async def deal_thread(db: Database, *, org: OrgScope, deal_id: int) -> dict[str, Any]:
    """The deal's channel, created on first use; every org member can see it."""
    channel_id = await queries.select_deal_channel_id(db, org_id=org.id, deal_id=deal_id)
    if channel_id is None:
        async with write_transaction(db):
            if not await queries.deal_exists(db, org_id=org.id, deal_id=deal_id):
                raise APIError(404, "deal_not_found", "No such deal.")
            channel_id = await queries.insert_channel(
                db, org_id=org.id, kind="deal", name=None, created_by=org.user_id, deal_id=deal_id
            )
            if channel_id is None:  # created concurrently
                channel_id = await queries.select_deal_channel_id(db, org_id=org.id, deal_id=deal_id)
    assert channel_id is not None
    return await visible_channel(db, org=org, channel_id=channel_id)


async def _editable_channel(db: Database, *, org: OrgScope, channel_id: int) -> dict[str, Any]:
    # lock first, so the version and members read next are the ones this write changes
    await queries.select_channel_for_update(db, org_id=org.id, channel_id=channel_id)
    channel = await visible_channel(db, org=org, channel_id=channel_id)
    if channel["kind"] not in ("public", "private"):
        raise APIError(403, "channel_not_editable", "Only public and private channels can be changed.")
    return channel


async def update_channel(
    db: Database, *, org: OrgScope, channel_id: int, name: str | None, archived: bool | None, version: int | None
) -> dict[str, Any]:
    """Rename or (un)archive: the channel's creator or an org admin."""
    async with write_transaction(db) as tx:
        channel = await _editable_channel(db, org=org, channel_id=channel_id)
        if channel["created_by"] != org.user_id and not org.at_least("admin"):
            raise APIError(403, "forbidden", "Only the channel's creator or an admin can change it.")
        if version is not None and version != channel["version"]:
            raise APIError(409, "version_conflict", current=channel)
        changes: dict[str, Any] = {}
        if name is not None and name != channel["name"]:
            if await queries.channel_name_taken(db, org_id=org.id, name=name, except_id=channel_id):
                raise APIError(409, "name_taken", "A channel with that name exists.", fields={"name": "is taken"})
            changes["name"] = name
        if archived is not None and archived != channel["archived"]:
            changes["archived"] = archived
        if not changes:
            return channel
        await queries.update_channel(db, org_id=org.id, channel_id=channel_id, changes=changes)
        channel = await visible_channel(db, org=org, channel_id=channel_id)
        await _channel_event(tx, org, "updated", channel)
    return channel


async def add_members(db: Database, *, org: OrgScope, channel_id: int, user_ids: list[int]) -> dict[str, Any]:
    """Any member of a private channel may add org members to it."""
    async with write_transaction(db) as tx:
        channel = await _editable_channel(db, org=org, channel_id=channel_id)
        if channel["kind"] != "private":
            raise APIError(403, "channel_not_editable", "Public channels are open to everyone already.")
        _require_open(channel)
        members = await _valid_members(db, org=org, user_ids=user_ids)
        await queries.insert_members(db, org_id=org.id, channel_id=channel_id, user_ids=members)
        channel = await visible_channel(db, org=org, channel_id=channel_id)
        await _channel_event(tx, org, "members", channel)
    return channel


async def remove_member(db: Database, *, org: OrgScope, channel_id: int, user_id: int) -> None:
    """Leave a private channel, or (creator or admin) remove someone from it."""
    async with write_transaction(db) as tx:
        channel = await _editable_channel(db, org=org, channel_id=channel_id)
        if channel["kind"] != "private":
            raise APIError(403, "channel_not_editable", "Public channels have no member list to leave.")
        if user_id != org.user_id and channel["created_by"] != org.user_id and not org.at_least("admin"):
            raise APIError(403, "forbidden", "Only the channel's creator or an admin can remove others.")
        if not await queries.delete_member(db, org_id=org.id, channel_id=channel_id, user_id=user_id):
            raise APIError(404, "member_not_found", "That user is not in the channel.")
        remaining = await queries.select_channel_member_ids(db, org_id=org.id, channel_id=channel_id)
        channel = {**channel, "member_ids": remaining}
        # the removed user hears it too, so their client drops the channel
        await tx.event(
            org.id,
            "chat.channel",
            actor=org.user_id,
            data={**events.channel("members", channel), "removed_user_id": user_id},
            audience=events.audience(channel, [*remaining, user_id]),
        )


async def _channel_event(tx: WriteTransaction, org: OrgScope, action: str, channel: Mapping[str, Any]) -> None:
    await tx.event(
        org.id,
        "chat.channel",
        actor=org.user_id,
        data=events.channel(action, channel),
        audience=events.audience(channel, channel["member_ids"]),
    )


# --- messages -------------------------------------------------------------------------------------------


async def list_messages(
    db: Database, *, org: OrgScope, channel_id: int, cursor: str | None, limit: int
) -> dict[str, Any]:
    """History newest first; deleted messages stay as tombstones (empty body, deleted_at set)."""
    await visible_channel(db, org=org, channel_id=channel_id)
    rows = await queries.select_messages_page(
        db, org_id=org.id, channel_id=channel_id, before_id=_cursor_id(cursor), limit=limit + 1
    )
    return _page([message_out(r) for r in rows], limit)


async def _mentioned(db: Database, *, org: OrgScope, channel: Mapping[str, Any], body: str) -> list[int]:
    """Mentioned members who can see the channel."""
    if "@" not in body:
        return []
    members = await queries.select_org_members(db, org_id=org.id)
    if channel["kind"] not in events.OPEN_KINDS:
        allowed = set(channel["member_ids"])
        members = [m for m in members if m["user_id"] in allowed]
    return mentions.resolve(body, members)


async def post_message(
    db: Database, *, org: OrgScope, channel_id: int, body: str, client_id: str | None
) -> tuple[dict[str, Any], bool]:
    """Store a message; a retry with the same client_id returns the first one. (message, created)."""
    body = clean_body(body)
    async with write_transaction(db) as tx:
        if client_id is not None:
            existing = await _existing_send(db, org=org, channel_id=channel_id, client_id=client_id)
            if existing is not None:
                return existing, False
        channel = await visible_channel(db, org=org, channel_id=channel_id)
        _require_open(channel)
        mentioned = await _mentioned(db, org=org, channel=channel, body=body)
        row = await queries.insert_message(
            db,
            org_id=org.id,
            channel_id=channel_id,
            author_id=org.user_id,
            body=body,
            client_id=client_id,
            mentions=mentioned,
        )
        if row is None:  # the same client_id raced in from another connection
            assert client_id is not None
            existing = await _existing_send(db, org=org, channel_id=channel_id, client_id=client_id)
            assert existing is not None
            return existing, False
        message = message_out(row)
        await queries.upsert_read_position(
            db, org_id=org.id, channel_id=channel_id, user_id=org.user_id, message_id=message["id"]
        )
        if channel["kind"] in events.OPEN_KINDS and mentioned:
            # a mention brings the thread into the mentioned member's channel list
            await queries.insert_members(db, org_id=org.id, channel_id=channel_id, user_ids=mentioned)
        await _message_event(tx, org, "created", channel, message)
        await notifications.notify_mentions(
            tx, org_id=org.id, user_ids=mentioned, author_id=org.user_id, channel=channel, message=message
        )
    return message, True


async def _existing_send(db: Database, *, org: OrgScope, channel_id: int, client_id: str) -> dict[str, Any] | None:
    row = await queries.select_message_by_client_id(db, org_id=org.id, author_id=org.user_id, client_id=client_id)
    if row is None:
        return None
    if row["channel_id"] != channel_id:
        raise APIError(
            409, "client_id_reused", "That client_id was used for another channel.", fields={"client_id": "reused"}
        )
    return message_out(row)


async def _own_message(db: Database, *, org: OrgScope, channel_id: int, message_id: int) -> tuple[dict[str, Any], Row]:
    channel = await visible_channel(db, org=org, channel_id=channel_id)
    row = await queries.select_message(db, org_id=org.id, channel_id=channel_id, message_id=message_id, lock=True)
    if row is None or row["deleted_at"] is not None:
        raise APIError(404, "message_not_found", "No such message.")
    if row["author_id"] != org.user_id:
        raise APIError(403, "not_author", "You can only change your own messages.")
    _require_open(channel)
    return channel, row


async def edit_message(
    db: Database, *, org: OrgScope, channel_id: int, message_id: int, body: str, version: int | None
) -> dict[str, Any]:
    """Edit one's own message; members newly mentioned are notified."""
    body = clean_body(body)
    async with write_transaction(db) as tx:
        channel, row = await _own_message(db, org=org, channel_id=channel_id, message_id=message_id)
        if version is not None and version != row["version"]:
            raise APIError(409, "version_conflict", current=message_out(row))
        mentioned = await _mentioned(db, org=org, channel=channel, body=body)
        message = message_out(
            await queries.update_message_body(db, org_id=org.id, message_id=message_id, body=body, mentions=mentioned)
        )
        await _message_event(tx, org, "edited", channel, message)
        new = [u for u in mentioned if u not in set(row["mentions"] or [])]
        if channel["kind"] in events.OPEN_KINDS and new:
            await queries.insert_members(db, org_id=org.id, channel_id=channel_id, user_ids=new)
        await notifications.notify_mentions(
            tx, org_id=org.id, user_ids=new, author_id=org.user_id, channel=channel, message=message
        )
    return message


async def delete_message(db: Database, *, org: OrgScope, channel_id: int, message_id: int) -> None:
    """Soft delete one's own message: the body goes, a tombstone stays in history."""
    async with write_transaction(db) as tx:
        channel, _ = await _own_message(db, org=org, channel_id=channel_id, message_id=message_id)
        message = message_out(await queries.soft_delete_message(db, org_id=org.id, message_id=message_id))
        await _message_event(tx, org, "deleted", channel, message)


async def _message_event(
    tx: WriteTransaction, org: OrgScope, action: str, channel: Mapping[str, Any], message: Mapping[str, Any]
) -> None:
    await tx.event(
        org.id,
        "chat.message",
        actor=org.user_id,
        data=events.message(action, message),
        audience=events.audience(channel, channel["member_ids"]),
    )


async def mark_read(db: Database, *, org: OrgScope, channel_id: int, message_id: int) -> dict[str, Any]:
    """Move the caller's read position up to message_id (never back); emits chat.read."""
    async with write_transaction(db) as tx:
        channel = await visible_channel(db, org=org, channel_id=channel_id)
        if await queries.select_message(db, org_id=org.id, channel_id=channel_id, message_id=message_id) is None:
            raise APIError(404, "message_not_found", "No such message in this channel.")
        position = await queries.upsert_read_position(
            db, org_id=org.id, channel_id=channel_id, user_id=org.user_id, message_id=message_id
        )
        await tx.event(
            org.id,
            "chat.read",
            actor=org.user_id,
            data=events.read(channel_id, org.user_id, position),
            audience=events.audience(channel, channel["member_ids"]),
        )
    unread = await queries.count_unread(
        db, org_id=org.id, channel_id=channel_id, user_id=org.user_id, after_id=position
    )
    return {"channel_id": channel_id, "user_id": org.user_id, "last_read_message_id": position, "unread_count": unread}


async def search(db: Database, *, org: OrgScope, q: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """Full-text search over the messages the caller can see, newest first."""
    q = q.strip()
    if not q:
        raise APIError(422, "validation_error", fields={"q": "is required"})
    if len(q) > 200 or "\x00" in q:
        raise APIError(422, "validation_error", fields={"q": "at most 200 characters, no NUL"})
    rows = await queries.search_messages(
        db, org_id=org.id, user_id=org.user_id, query=q, before_id=_cursor_id(cursor), limit=limit + 1
    )
    return _page([message_out(r) for r in rows], limit)


async def typing_audience(db: Database, *, org: OrgScope, channel_id: int) -> dict[str, Any]:
    """Who may see that the caller is typing here (404 if the caller cannot see the channel)."""
    channel = await visible_channel(db, org=org, channel_id=channel_id)
    if channel["archived"]:
        raise APIError(409, "channel_archived", "The channel is archived.")
    return events.audience(channel, channel["member_ids"])
