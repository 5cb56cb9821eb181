"""SQL for chat channels, members and messages. Every statement filters by org_id."""

from __future__ import annotations

from typing import Any

from databases import Database

from crm.db import Row

CHANNEL_COLUMNS = "c.id, c.kind, c.name, c.deal_id, c.created_by, c.archived, c.created_at, c.updated_at, c.version"
MESSAGE_COLUMNS = (
    "m.id, m.channel_id, m.author_id, m.body, m.client_id, m.mentions, m.created_at, m.edited_at, m.deleted_at,"
    " m.version"
)
# What a channel looks like to one user: visibility, read position, unread count, members.
CHANNEL_FOR_USER = f"""
SELECT {CHANNEL_COLUMNS}, me.user_id IS NOT NULL AS is_member, me.last_read_message_id,
       (SELECT max(x.id) FROM chat_messages x WHERE x.org_id = c.org_id AND x.channel_id = c.id) AS last_message_id,
       (SELECT count(*) FROM chat_messages x
         WHERE x.org_id = c.org_id AND x.channel_id = c.id AND x.id > coalesce(me.last_read_message_id, 0)
           AND x.deleted_at IS NULL AND x.author_id IS DISTINCT FROM :user) AS unread_count,
       ARRAY(SELECT cm.user_id FROM chat_members cm
              WHERE cm.org_id = c.org_id AND cm.channel_id = c.id ORDER BY cm.user_id) AS member_ids
  FROM chat_channels c
  LEFT JOIN chat_members me ON me.org_id = c.org_id AND me.channel_id = c.id AND me.user_id = :user
"""
# Public and deal channels are open to every org member; private channels and DMs to their members.
VISIBLE = "(c.kind IN ('public', 'deal') OR me.user_id IS NOT NULL)"


async def select_channel_for_user(db: Database, *, org_id: int, channel_id: int, user_id: int) -> Row | None:
    row = await db.fetch_one(
        f"{CHANNEL_FOR_USER} WHERE c.org_id = :org AND c.id = :channel AND {VISIBLE}",
        {"org": org_id, "channel": channel_id, "user": user_id},
    )
    return row._mapping if row else None


async def select_channels_page(
    db: Database, *, org_id: int, user_id: int, kind: str | None, archived: bool, after_id: int | None, limit: int
) -> list[Row]:
    """Public channels, and the private, DM and deal channels the user is in (deal: has taken part)."""
    rows = await db.fetch_all(
        f"{CHANNEL_FOR_USER} WHERE c.org_id = :org AND (c.kind = 'public' OR me.user_id IS NOT NULL)"
        " AND c.archived = :archived AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)"
        " AND c.id > :after ORDER BY c.id LIMIT :limit",
        {"org": org_id, "user": user_id, "kind": kind, "archived": archived, "after": after_id or 0, "limit": limit},
    )
    return [row._mapping for row in rows]


async def select_channel_for_update(db: Database, *, org_id: int, channel_id: int) -> Row | None:
    row = await db.fetch_one(
        f"SELECT {CHANNEL_COLUMNS}, c.dm_key FROM chat_channels c WHERE c.org_id = :org AND c.id = :channel FOR UPDATE",
        {"org": org_id, "channel": channel_id},
    )
    return row._mapping if row else None


async def channel_name_taken(db: Database, *, org_id: int, name: str, except_id: int | None = None) -> bool:
    return bool(
        await db.fetch_val(
            "SELECT 1 FROM chat_channels WHERE org_id = :org AND lower(name) = lower(:name) AND id <> :except",
            {"org": org_id, "name": name, "except": except_id or 0},
        )
    )


async def insert_channel(
    db: Database,
    *,
    org_id: int,
    kind: str,
    name: str | None,
    created_by: int,
    deal_id: int | None = None,
    dm_key: str | None = None,
) -> int | None:
    """The new channel's id, or None when a DM with this member set or this deal's thread exists."""
    return await db.fetch_val(
        "INSERT INTO chat_channels (org_id, kind, name, deal_id, dm_key, created_by)"
        " VALUES (:org, :kind, :name, :deal, :dm_key, :by) ON CONFLICT DO NOTHING RETURNING id",
        {"org": org_id, "kind": kind, "name": name, "deal": deal_id, "dm_key": dm_key, "by": created_by},
    )


async def select_dm_id(db: Database, *, org_id: int, dm_key: str) -> int | None:
    return await db.fetch_val(
        "SELECT id FROM chat_channels WHERE org_id = :org AND dm_key = :key", {"org": org_id, "key": dm_key}
    )


async def select_deal_channel_id(db: Database, *, org_id: int, deal_id: int) -> int | None:
    return await db.fetch_val(
        "SELECT id FROM chat_channels WHERE org_id = :org AND deal_id = :deal", {"org": org_id, "deal": deal_id}
    )


async def deal_exists(db: Database, *, org_id: int, deal_id: int) -> bool:
    return bool(
        await db.fetch_val(
            # the key-share lock keeps the deal from being deleted before its thread is inserted
            "SELECT 1 FROM deals WHERE org_id = :org AND id = :deal FOR KEY SHARE",
            {"org": org_id, "deal": deal_id},
        )
    )


async def update_channel(db: Database, *, org_id: int, channel_id: int, changes: dict[str, Any]) -> None:
    sets = "".join(f"{column} = :{column}, " for column in changes)
    await db.execute(
        f"UPDATE chat_channels SET {sets}updated_at = now(), version = version + 1"
        " WHERE org_id = :org AND id = :channel",
        {"org": org_id, "channel": channel_id, **changes},
    )


async def select_org_member_ids(db: Database, *, org_id: int, user_ids: list[int]) -> set[int]:
    rows = await db.fetch_all(
        "SELECT user_id FROM memberships WHERE org_id = :org AND user_id = ANY(CAST(:ids AS bigint[]))",
        {"org": org_id, "ids": user_ids},
    )
    return {row["user_id"] for row in rows}


async def select_org_members(db: Database, *, org_id: int) -> list[Row]:
    rows = await db.fetch_all(
        "SELECT m.user_id, u.name, u.email FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.org_id = :org ORDER BY m.user_id",
        {"org": org_id},
    )
    return [row._mapping for row in rows]


async def select_channel_member_ids(db: Database, *, org_id: int, channel_id: int) -> list[int]:
    rows = await db.fetch_all(
        "SELECT user_id FROM chat_members WHERE org_id = :org AND channel_id = :channel ORDER BY user_id",
        {"org": org_id, "channel": channel_id},
    )
    return [row["user_id"] for row in rows]


async def insert_members(db: Database, *, org_id: int, channel_id: int, user_ids: list[int]) -> None:
    await db.execute(
        "INSERT INTO chat_members (org_id, channel_id, user_id)"
        " SELECT :org, :channel, unnest(CAST(:ids AS bigint[])) ON CONFLICT DO NOTHING",
        {"org": org_id, "channel": channel_id, "ids": user_ids},
    )


async def delete_member(db: Database, *, org_id: int, channel_id: int, user_id: int) -> bool:
    row = await db.fetch_one(
        "DELETE FROM chat_members WHERE org_id = :org AND channel_id = :channel AND user_id = :user RETURNING user_id",
        {"org": org_id, "channel": channel_id, "user": user_id},
    )
    return row is not None


async def upsert_read_position(db: Database, *, org_id: int, channel_id: int, user_id: int, message_id: int) -> int:
    """Move the read position forward (never back); the position now stored."""
    value = await db.fetch_val(
        "INSERT INTO chat_members (org_id, channel_id, user_id, last_read_message_id)"
        " VALUES (:org, :channel, :user, :message)"
        " ON CONFLICT (org_id, channel_id, user_id) DO UPDATE SET last_read_message_id ="
        " GREATEST(coalesce(chat_members.last_read_message_id, 0), EXCLUDED.last_read_message_id)"
        " RETURNING last_read_message_id",
        {"org": org_id, "channel": channel_id, "user": user_id, "message": message_id},
    )
    return int(value)


async def count_unread(db: Database, *, org_id: int, channel_id: int, user_id: int, after_id: int) -> int:
    value = await db.fetch_val(
        "SELECT count(*) FROM chat_messages WHERE org_id = :org AND channel_id = :channel AND id > :after"
        " AND deleted_at IS NULL AND author_id IS DISTINCT FROM :user",
        {"org": org_id, "channel": channel_id, "after": after_id, "user": user_id},
    )
    return int(value or 0)


async def insert_message(
    db: Database,
    *,
    org_id: int,
    channel_id: int,
    author_id: int,
    body: str,
    client_id: str | None,
    mentions: list[int],
) -> Row | None:
    """The new message, or None when this author already used this client_id."""
    row = await db.fetch_one(
        "INSERT INTO chat_messages AS m (org_id, channel_id, author_id, body, client_id, mentions)"
        " VALUES (:org, :channel, :author, :body, :client_id, CAST(:mentions AS bigint[]))"
        f" ON CONFLICT (org_id, author_id, client_id) DO NOTHING RETURNING {MESSAGE_COLUMNS}",
        {
            "org": org_id,
            "channel": channel_id,
            "author": author_id,
            "body": body,
            "client_id": client_id,
            "mentions": mentions,
        },
    )
    return row._mapping if row else None


async def select_message_by_client_id(db: Database, *, org_id: int, author_id: int, client_id: str) -> Row | None:
    row = await db.fetch_one(
        f"SELECT {MESSAGE_COLUMNS} FROM chat_messages m"
        " WHERE m.org_id = :org AND m.author_id = :author AND m.client_id = :client_id",
        {"org": org_id, "author": author_id, "client_id": client_id},
    )
    return row._mapping if row else None


async def select_message(
    db: Database, *, org_id: int, channel_id: int, message_id: int, lock: bool = False
) -> Row | None:
    row = await db.fetch_one(
        f"SELECT {MESSAGE_COLUMNS} FROM chat_messages m"
        " WHERE m.org_id = :org AND m.channel_id = :channel AND m.id = :message" + (" FOR UPDATE" if lock else ""),
        {"org": org_id, "channel": channel_id, "message": message_id},
    )
    return row._mapping if row else None


async def select_messages_page(
    db: Database, *, org_id: int, channel_id: int, before_id: int | None, limit: int
) -> list[Row]:
    """Newest first; `before_id` is the keyset (the last id of the previous page)."""
    rows = await db.fetch_all(
        f"SELECT {MESSAGE_COLUMNS} FROM chat_messages m WHERE m.org_id = :org AND m.channel_id = :channel"
        " AND m.id < :before ORDER BY m.id DESC LIMIT :limit",
        {"org": org_id, "channel": channel_id, "before": before_id or 2**63 - 1, "limit": limit},
    )
    return [row._mapping for row in rows]


async def update_message_body(db: Database, *, org_id: int, message_id: int, body: str, mentions: list[int]) -> Row:
    row = await db.fetch_one(
        "UPDATE chat_messages m SET body = :body, mentions = CAST(:mentions AS bigint[]), edited_at = now(),"
        f" version = version + 1 WHERE m.org_id = :org AND m.id = :message RETURNING {MESSAGE_COLUMNS}",
        {"org": org_id, "message": message_id, "body": body, "mentions": mentions},
    )
    assert row is not None
    return row._mapping


async def soft_delete_message(db: Database, *, org_id: int, message_id: int) -> Row:
    row = await db.fetch_one(
        "UPDATE chat_messages m SET body = '', mentions = '{}', deleted_at = now(), version = version + 1"
        f" WHERE m.org_id = :org AND m.id = :message RETURNING {MESSAGE_COLUMNS}",
        {"org": org_id, "message": message_id},
    )
    assert row is not None
    return row._mapping


async def search_messages(
    db: Database, *, org_id: int, user_id: int, query: str, before_id: int | None, limit: int
) -> list[Row]:
    """Full-text search over the messages this user may see, newest first."""
    rows = await db.fetch_all(
        f"SELECT {MESSAGE_COLUMNS} FROM chat_messages m"
        " JOIN chat_channels c ON c.org_id = m.org_id AND c.id = m.channel_id"
        " LEFT JOIN chat_members me ON me.org_id = c.org_id AND me.channel_id = c.id AND me.user_id = :user"
        f" WHERE m.org_id = :org AND {VISIBLE} AND m.deleted_at IS NULL"
        " AND m.search @@ websearch_to_tsquery('simple', :q) AND m.id < :before"
        " ORDER BY m.id DESC LIMIT :limit",
        {"org": org_id, "user": user_id, "q": query, "before": before_id or 2**63 - 1, "limit": limit},
    )
    return [row._mapping for row in rows]
