"""Messages over REST: idempotent sends, history, edits, read positions, mentions, search."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.chat.conftest import outbox
from tests.helpers import User


async def test_retried_send_with_the_same_client_id_returns_the_first_message(
    team: dict[str, User], base: str, make_channel: Any
) -> None:
    alice = team["alice"]
    channel = await make_channel(alice, "general")
    path = f"{base}/channels/{channel['id']}/messages"
    first = await alice.post(path, json={"body": "hello", "client_id": "c-1"})
    retry = await alice.post(path, json={"body": "hello", "client_id": "c-1"})
    assert first.status == 201 and retry.status == 200
    assert retry.json == first.json
    # another author may use the same client_id: it is theirs
    other = await team["bob"].post(path, json={"body": "hi", "client_id": "c-1"})
    assert other.status == 201 and other.json["id"] != first.json["id"]
    history = await alice.get(path)
    assert [m["body"] for m in history.json["items"]] == ["hi", "hello"]
    elsewhere = await make_channel(alice, "elsewhere")
    reused = await alice.post(f"{base}/channels/{elsewhere['id']}/messages", json={"body": "x", "client_id": "c-1"})
    assert reused.status == 409 and reused.json["error"]["code"] == "client_id_reused"


async def test_history_walks_every_message_exactly_once_newest_first(
    team: dict[str, User], base: str, make_channel: Any, send: Any
) -> None:
    alice = team["alice"]
    channel = await make_channel(alice, "busy")
    sent = [(await send(alice, channel["id"], f"message {n}"))["id"] for n in range(23)]
    seen: list[int] = []
    cursor = None
    while True:
        query = f"?limit=5&before={cursor}" if cursor else "?limit=5"
        page = await alice.get(f"{base}/channels/{channel['id']}/messages{query}")
        assert page.status == 200
        seen += [m["id"] for m in page.json["items"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(sent))


async def test_author_edits_and_deletes_own_message_only(
    team: dict[str, User], base: str, make_channel: Any, send: Any, sql: Any
) -> None:
    alice, bob = team["alice"], team["bob"]
    channel = await make_channel(alice, "general")
    message = await send(alice, channel["id"], "teh plan")
    path = f"{base}/channels/{channel['id']}/messages/{message['id']}"
    assert (await bob.patch(path, json={"body": "hijack"})).status == 403
    assert (await bob.delete(path)).status == 403
    edited = await alice.patch(path, json={"body": "the plan", "version": 1})
    assert edited.status == 200 and edited.json["body"] == "the plan" and edited.json["edited_at"]
    assert (await alice.patch(path, json={"body": "again", "version": 1})).status == 409
    assert (await alice.delete(path)).status == 204
    history = await alice.get(f"{base}/channels/{channel['id']}/messages")
    tombstone = history.json["items"][0]
    assert tombstone["body"] == "" and tombstone["deleted_at"] is not None
    assert (await alice.get(f"{base}/chat/search?q=plan")).json["items"] == []
    assert (await alice.delete(path)).status == 404
    actions = [e["data"]["action"] for e in await outbox(sql, "chat.message")]
    assert actions == ["created", "edited", "deleted"]


async def test_unread_counts_follow_read_positions(
    team: dict[str, User], base: str, make_channel: Any, send: Any, sql: Any
) -> None:
    alice, bob = team["alice"], team["bob"]
    channel = await make_channel(alice, "general")
    ids = [(await send(alice, channel["id"], f"news {n}"))["id"] for n in range(3)]

    async def unread(user: User) -> int:
        items = (await user.get(f"{base}/channels")).json["items"]
        return int(next(c for c in items if c["id"] == channel["id"])["unread_count"])

    assert await unread(alice) == 0  # one's own messages are read
    assert await unread(bob) == 3
    read = await bob.post(f"{base}/channels/{channel['id']}/read", json={"message_id": ids[1]})
    assert read.status == 200
    assert read.json == {
        "channel_id": channel["id"],
        "user_id": bob.id,
        "last_read_message_id": ids[1],
        "unread_count": 1,
    }
    assert await unread(bob) == 1
    back = await bob.post(f"{base}/channels/{channel['id']}/read", json={"message_id": ids[0]})
    assert back.json["last_read_message_id"] == ids[1]  # never moves back
    one = (await bob.get(f"{base}/channels/{channel['id']}")).json
    assert one["unread_count"] == 1 and one["last_read_message_id"] == ids[1]
    reads = await outbox(sql, "chat.read")
    assert reads[0]["data"] == {"channel_id": channel["id"], "user_id": bob.id, "message_id": ids[1]}


async def test_mention_notifies_members_who_can_see_the_channel(
    team: dict[str, User], base: str, make_channel: Any, send: Any
) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    general = await make_channel(alice, "general")
    message = await send(alice, general["id"], "@bob and @carol.c please look. Thanks @alice")
    assert message["mentions"] == sorted([alice.id, bob.id, carol.id])
    inbox = await bob.get(f"{base}/notifications")
    assert inbox.json["unread_count"] == 1
    note = inbox.json["items"][0]
    assert note["kind"] == "mention" and note["data"]["message_id"] == message["id"]
    assert note["title"] == "Alice Adams mentioned you in #general"
    assert (await alice.get(f"{base}/notifications")).json["items"] == []  # one's own mention: no notification
    # first names work when unique; carol cannot see this private channel, so she is not mentioned
    private = await make_channel(alice, "secret", "private", [bob.id])
    hidden = await send(alice, private["id"], "@Carol should not know, @BobBrown should")
    assert hidden["mentions"] == [bob.id]
    assert (await carol.get(f"{base}/notifications")).json["unread_count"] == 1


async def test_search_finds_only_messages_the_user_can_see(
    team: dict[str, User], base: str, make_channel: Any, send: Any
) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    general = await make_channel(alice, "general")
    private = await make_channel(alice, "board", "private", [bob.id])
    dm = (await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": [bob.id]})).json
    await send(alice, general["id"], "quarterly forecast is ready")
    await send(alice, private["id"], "quarterly forecast looks grim")
    await send(alice, dm["id"], "forecast between us")
    bodies = lambda r: sorted(m["body"] for m in r.json["items"])  # noqa: E731
    assert bodies(await bob.get(f"{base}/chat/search?q=forecast")) == [
        "forecast between us",
        "quarterly forecast is ready",
        "quarterly forecast looks grim",
    ]
    assert bodies(await carol.get(f"{base}/chat/search?q=forecast")) == ["quarterly forecast is ready"]
    assert bodies(await carol.get(f"{base}/chat/search?q=quarterly grim")) == []


async def test_message_events_go_to_the_channel_audience(
    team: dict[str, User], make_channel: Any, send: Any, sql: Any
) -> None:
    alice, bob = team["alice"], team["bob"]
    public = await make_channel(alice, "general")
    private = await make_channel(alice, "inner", "private", [bob.id])
    await send(alice, public["id"], "to all")
    await send(alice, private["id"], "to us")
    events = await outbox(sql, "chat.message")
    assert [(e["data"]["message"]["body"], e["audience"]) for e in events] == [
        ("to all", {"scope": "org"}),
        ("to us", {"scope": "users", "user_ids": sorted([alice.id, bob.id])}),
    ]
    assert all(e["data"]["action"] == "created" for e in events)


async def test_concurrent_retries_store_one_message(team: dict[str, User], base: str, make_channel: Any) -> None:
    alice = team["alice"]
    channel = await make_channel(alice, "general")
    path = f"{base}/channels/{channel['id']}/messages"
    responses = await asyncio.gather(
        *(alice.post(path, json={"body": "only once", "client_id": "race"}) for _ in range(6))
    )
    assert sorted(r.status for r in responses) == [200, 200, 200, 200, 200, 201]
    assert len({r.json["id"] for r in responses}) == 1
    assert len((await alice.get(path)).json["items"]) == 1


async def test_concurrent_dm_creation_makes_one_dm(team: dict[str, User], base: str) -> None:
    alice, bob = team["alice"], team["bob"]
    responses = await asyncio.gather(
        *(
            user.post(f"{base}/channels", json={"kind": "dm", "member_ids": [other.id]})
            for user, other in [(alice, bob), (bob, alice)] * 3
        )
    )
    assert sorted(r.status for r in responses) == [200, 200, 200, 200, 200, 201]
    assert len({r.json["id"] for r in responses}) == 1
