"""Channels, DMs and deal threads over REST: who sees what."""

from __future__ import annotations

from typing import Any

from tests.chat.conftest import outbox
from tests.helpers import User


async def test_member_creates_public_channel_everyone_in_org_sees_it(
    team: dict[str, User], base: str, make_channel: Any
) -> None:
    channel = await make_channel(team["alice"], "general")
    assert channel["kind"] == "public" and channel["name"] == "general"
    assert channel["member_ids"] == [team["alice"].id]
    listed = await team["bob"].get(f"{base}/channels")
    assert listed.status == 200
    assert [c["id"] for c in listed.json["items"]] == [channel["id"]]
    assert (await team["bob"].get(f"{base}/channels/{channel['id']}")).json["name"] == "general"


async def test_private_channel_is_invisible_to_non_members(
    team: dict[str, User], base: str, make_channel: Any, send: Any
) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    secret = await make_channel(alice, "deal-desk", "private", [bob.id])
    await send(alice, secret["id"], "the floor price is 90k")
    assert sorted(secret["member_ids"]) == sorted([alice.id, bob.id])
    assert [c["id"] for c in (await bob.get(f"{base}/channels")).json["items"]] == [secret["id"]]
    assert (await carol.get(f"{base}/channels")).json["items"] == []
    for path in (f"/channels/{secret['id']}", f"/channels/{secret['id']}/messages"):
        response = await carol.get(base + path)
        assert response.status == 404, path
        assert response.json["error"]["code"] == "channel_not_found"
    posted = await carol.post(f"{base}/channels/{secret['id']}/messages", json={"body": "hi"})
    assert posted.status == 404
    found = await carol.get(f"{base}/chat/search?q=floor")
    assert found.status == 200 and found.json["items"] == []
    assert len((await bob.get(f"{base}/chat/search?q=floor")).json["items"]) == 1


async def test_private_channel_members_can_be_added_and_removed(
    team: dict[str, User], base: str, make_channel: Any
) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    channel = await make_channel(alice, "leads", "private", [bob.id])
    added = await bob.post(f"{base}/channels/{channel['id']}/members", json={"user_ids": [carol.id]})
    assert added.status == 200, added.json
    assert sorted(added.json["member_ids"]) == sorted([alice.id, bob.id, carol.id])
    assert (await carol.get(f"{base}/channels/{channel['id']}")).status == 200
    # bob did not create it and is no admin: he may leave, not remove others
    assert (await bob.delete(f"{base}/channels/{channel['id']}/members/{carol.id}")).status == 403
    assert (await alice.delete(f"{base}/channels/{channel['id']}/members/{carol.id}")).status == 204
    assert (await carol.get(f"{base}/channels/{channel['id']}")).status == 404
    assert (await bob.delete(f"{base}/channels/{channel['id']}/members/{bob.id}")).status == 204
    assert (await bob.get(f"{base}/channels/{channel['id']}")).status == 404
    assert (await alice.get(f"{base}/channels/{channel['id']}")).json["member_ids"] == [alice.id]


async def test_dm_for_the_same_member_set_is_the_same_channel(team: dict[str, User], base: str) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    first = await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": [bob.id]})
    assert first.status == 201, first.json
    again = await bob.post(f"{base}/channels", json={"kind": "dm", "member_ids": [alice.id, bob.id]})
    assert again.status == 200 and again.json["id"] == first.json["id"]
    group = await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": [carol.id, bob.id]})
    assert group.status == 201 and group.json["id"] != first.json["id"]
    assert (await carol.get(f"{base}/channels/{first.json['id']}")).status == 404
    kinds = {c["id"]: c["kind"] for c in (await carol.get(f"{base}/channels")).json["items"]}
    assert kinds == {group.json["id"]: "dm"}


async def test_dm_is_limited_to_eight_people_and_needs_someone_else(
    api: Any, team: dict[str, User], base: str, org: dict[str, Any]
) -> None:
    alice = team["alice"]
    extra = []
    for n in range(8):
        user = await api.signup(f"extra{n}@example.com", f"Extra {n}")
        await api.add_member(alice, org, user, "member")
        extra.append(user.id)
    eight = await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": extra[:7]})
    assert eight.status == 201
    nine = await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": extra})
    assert nine.status == 422 and "member_ids" in nine.json["error"]["fields"]
    alone = await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": [alice.id]})
    assert alone.status == 422
    outsider = await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": [team["dan"].id]})
    assert outsider.status == 422


async def test_deal_thread_is_created_once_and_open_to_the_org(team: dict[str, User], base: str, send: Any) -> None:
    alice, carol = team["alice"], team["carol"]
    deal = await alice.post(f"{base}/deals", json={"title": "Globex renewal", "amount": 5000})
    assert deal.status == 201, deal.json
    thread = await alice.get(f"{base}/deals/{deal.json['id']}/thread")
    assert thread.status == 200 and thread.json["kind"] == "deal" and thread.json["deal_id"] == deal.json["id"]
    again = await carol.get(f"{base}/deals/{deal.json['id']}/thread")
    assert again.json["id"] == thread.json["id"]
    await send(carol, thread.json["id"], "I spoke to their CFO")
    history = await alice.get(f"{base}/channels/{thread.json['id']}/messages")
    assert [m["body"] for m in history.json["items"]] == ["I spoke to their CFO"]
    # the thread joins Carol's channel list once she took part; Alice has not yet
    assert [c["kind"] for c in (await carol.get(f"{base}/channels")).json["items"]] == ["deal"]
    assert (await alice.get(f"{base}/channels?kind=deal")).json["items"] == []
    missing = await alice.get(f"{base}/deals/999999/thread")
    assert missing.status == 404 and missing.json["error"]["code"] == "deal_not_found"


async def test_rename_and_archive_by_creator_or_admin_only(team: dict[str, User], base: str, make_channel: Any) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    channel = await make_channel(bob, "random")
    assert (await carol.patch(f"{base}/channels/{channel['id']}", json={"name": "mine"})).status == 403
    renamed = await bob.patch(f"{base}/channels/{channel['id']}", json={"name": "watercooler", "version": 1})
    assert renamed.status == 200 and renamed.json["name"] == "watercooler" and renamed.json["version"] == 2
    stale = await bob.patch(f"{base}/channels/{channel['id']}", json={"name": "x", "version": 1})
    assert stale.status == 409 and stale.json["error"]["current"]["name"] == "watercooler"
    archived = await alice.patch(f"{base}/channels/{channel['id']}", json={"archived": True})
    assert archived.status == 200 and archived.json["archived"] is True
    assert (await bob.get(f"{base}/channels")).json["items"] == []
    assert [c["id"] for c in (await bob.get(f"{base}/channels?archived=true")).json["items"]] == [channel["id"]]
    posted = await bob.post(f"{base}/channels/{channel['id']}/messages", json={"body": "hello?"})
    assert posted.status == 409 and posted.json["error"]["code"] == "channel_archived"


async def test_channel_names_are_unique_per_org(team: dict[str, User], base: str, make_channel: Any) -> None:
    await make_channel(team["alice"], "General")
    taken = await team["bob"].post(f"{base}/channels", json={"name": "general", "kind": "private"})
    assert taken.status == 409 and taken.json["error"]["code"] == "name_taken"


async def test_channel_events_reach_only_private_members(team: dict[str, User], make_channel: Any, sql: Any) -> None:
    alice, bob = team["alice"], team["bob"]
    await make_channel(alice, "open")
    await make_channel(alice, "closed", "private", [bob.id])
    created = await outbox(sql, "chat.channel")
    assert [e["audience"] for e in created] == [
        {"scope": "org"},
        {"scope": "users", "user_ids": sorted([alice.id, bob.id])},
    ]


async def test_removed_member_is_left_out_of_later_events(
    team: dict[str, User], base: str, make_channel: Any, send: Any, sql: Any
) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    channel = await make_channel(alice, "leads", "private", [bob.id, carol.id])
    await send(alice, channel["id"], "before")
    assert (await alice.delete(f"{base}/channels/{channel['id']}/members/{carol.id}")).status == 204
    await send(alice, channel["id"], "after")
    audiences = {e["data"]["message"]["body"]: e["audience"]["user_ids"] for e in await outbox(sql, "chat.message")}
    assert audiences == {"before": sorted([alice.id, bob.id, carol.id]), "after": sorted([alice.id, bob.id])}
    removal = (await outbox(sql, "chat.channel"))[-1]
    assert removal["data"]["removed_user_id"] == carol.id and carol.id in removal["audience"]["user_ids"]


async def test_mention_in_a_deal_thread_brings_it_into_the_channel_list(
    team: dict[str, User], base: str, send: Any
) -> None:
    alice, bob = team["alice"], team["bob"]
    deal = (await alice.post(f"{base}/deals", json={"title": "Hooli"})).json
    thread = (await alice.get(f"{base}/deals/{deal['id']}/thread")).json
    await send(alice, thread["id"], "@bob can you take this one?")
    listed = (await bob.get(f"{base}/channels?kind=deal")).json["items"]
    assert [(c["id"], c["deal_id"], c["unread_count"]) for c in listed] == [(thread["id"], deal["id"], 1)]
    note = (await bob.get(f"{base}/notifications")).json["items"][0]
    assert note["title"] == "Alice Adams mentioned you in a deal thread"
    assert note["data"] == {"channel_id": thread["id"], "message_id": note["data"]["message_id"], "deal_id": deal["id"]}
