"""Bad input on every chat route: a clear 4xx, never a 500, never a partial write."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import User


@pytest.fixture
async def setup(team: dict[str, User], base: str, make_channel: Any, send: Any) -> dict[str, Any]:
    channel = await make_channel(team["alice"], "general")
    private = await make_channel(team["alice"], "inner", "private", [team["bob"].id])
    message = await send(team["alice"], channel["id"], "hello")
    hidden = await send(team["alice"], private["id"], "psst")
    return {"channel": channel, "private": private, "message": message, "hidden": hidden}


async def message_count(sql: Any) -> int:
    return int(await sql.fetchval("SELECT count(*) FROM chat_messages"))


async def test_malformed_and_invalid_bodies(team: dict[str, User], base: str, setup: dict[str, Any], sql: Any) -> None:
    alice = team["alice"]
    cid = setup["channel"]["id"]
    before = await message_count(sql)
    cases = [
        ("POST", f"{base}/channels", {"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", f"{base}/channels", {"json": {"kind": "public"}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "x" * 81}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "a", "kind": "deal"}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "a", "member_ids": ["x"]}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "a", "member_ids": [999999]}}, 422),
        ("POST", f"{base}/channels", {"json": {"kind": "dm", "name": "a", "member_ids": [team["bob"].id]}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "a", "surprise": 1}}, 422),
        (
            "POST",
            f"{base}/channels/{cid}/messages",
            {"data": "{", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {}}, 422),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": "   "}}, 422),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": 5}}, 422),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": "x" * 4001}}, 413),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": "x", "client_id": ""}}, 422),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": "x", "client_id": "c" * 101}}, 422),
        ("POST", f"{base}/channels/{cid}/read", {"json": {"message_id": "one"}}, 422),
        ("POST", f"{base}/channels/{cid}/read", {"json": {"message_id": 0}}, 422),
        ("POST", f"{base}/channels/{cid}/read", {"json": {"message_id": setup["hidden"]["id"]}}, 404),
        ("GET", f"{base}/channels/{cid}/messages?limit=0", {}, 422),
        ("GET", f"{base}/channels/{cid}/messages?limit=abc", {}, 422),
        ("GET", f"{base}/channels/{cid}/messages?before=%%%", {}, 422),
        ("GET", f"{base}/channels/{cid}/messages?before=WyJ4Il0", {}, 422),
        ("GET", f"{base}/channels?kind=secret", {}, 422),
        ("GET", f"{base}/channels?archived=maybe", {}, 422),
        ("GET", f"{base}/channels?cursor=nope", {}, 422),
        ("GET", f"{base}/chat/search", {}, 422),
        ("GET", f"{base}/chat/search?q=" + "a" * 201, {}, 422),
        ("PATCH", f"{base}/channels/{cid}", {"json": {"name": ""}}, 422),
        ("PATCH", f"{base}/channels/{cid}/messages/{setup['message']['id']}", {"json": {"body": "y" * 4001}}, 413),
        ("POST", f"{base}/channels/{cid}/members", {"json": {"user_ids": []}}, 422),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": "a\x00b"}}, 422),
        ("POST", f"{base}/channels/{cid}/messages", {"json": {"body": "ab", "client_id": "x\x00"}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "a\x00b"}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "big", "member_ids": [2**64]}}, 422),
        ("POST", f"{base}/channels", {"json": {"name": "str", "member_ids": ["3"]}}, 422),
        ("POST", f"{base}/notifications/read", {"json": {"ids": [2**64]}}, 422),
        ("PATCH", f"{base}/channels/{cid}", {"json": {"version": 2**70}}, 422),
        ("GET", f"{base}/chat/search?q=a%00b", {}, 422),
        ("GET", f"{base}/channels/{cid}/messages?before=WzE4NDQ2NzQ0MDczNzA5NTUxNjE2XQ", {}, 422),
    ]
    for method, path, kwargs, status in cases:
        response = await alice.request(method, path, **kwargs)
        assert response.status == status, (method, path, kwargs, response.status, response.json)
        assert response.json["error"]["code"], path
    assert await message_count(sql) == before


async def test_unknown_and_foreign_ids_are_404(
    team: dict[str, User], base: str, setup: dict[str, Any], sql: Any
) -> None:
    alice, bob, carol, dan = team["alice"], team["bob"], team["carol"], team["dan"]
    rival = await dan.create_org("Rival Corp")
    rival_base = f"/api/v1/orgs/{rival['slug']}"
    theirs = (await dan.post(f"{rival_base}/channels", json={"name": "ours"})).json
    cid, mid = setup["channel"]["id"], setup["message"]["id"]
    for path in (
        "/channels/999999",
        "/channels/999999/messages",
        f"/channels/{theirs['id']}",
        f"/channels/{theirs['id']}/messages",
        "/deals/999999/thread",
    ):
        response = await alice.get(base + path)
        assert response.status == 404, path
    writes = [
        ("POST", f"/channels/{theirs['id']}/messages", {"body": "sneaky"}),
        ("POST", "/channels/999999/messages", {"body": "lost"}),
        ("POST", f"/channels/{theirs['id']}/read", {"message_id": 1}),
        ("PATCH", f"/channels/{theirs['id']}", {"name": "mine"}),
        ("PATCH", f"/channels/{cid}/messages/999999", {"body": "x"}),
        ("POST", f"/channels/{cid}/read", {"message_id": 999999}),
        ("POST", f"/channels/{setup['private']['id']}/members", {"user_ids": [carol.id]}),
    ]
    for method, path, body in writes:
        response = await (carol if "members" in path else alice).request(method, base + path, json=body)
        assert response.status == 404, (path, response.json)
    # a message id from another channel of the same org
    other = setup["private"]["id"]
    assert (await alice.delete(f"{base}/channels/{other}/messages/{mid}")).status == 404
    # not in the org at all
    assert (await dan.get(f"{base}/channels")).status == 404
    assert (await dan.post(f"{base}/channels/{cid}/messages", json={"body": "hi"})).status == 404
    # a private channel's message through its id, by an org member outside the channel
    hidden = setup["hidden"]["id"]
    assert (await carol.patch(f"{base}/channels/{other}/messages/{hidden}", json={"body": "x"})).status == 404
    assert (await bob.get(f"{base}/channels/{other}/messages")).status == 200
    assert int(await sql.fetchval("SELECT count(*) FROM chat_messages WHERE body = 'sneaky'")) == 0


async def test_viewers_read_but_cannot_write(team: dict[str, User], base: str, setup: dict[str, Any]) -> None:
    vera = team["vera"]
    cid = setup["channel"]["id"]
    assert (await vera.get(f"{base}/channels/{cid}/messages")).status == 200
    posted = await vera.post(f"{base}/channels/{cid}/messages", json={"body": "hi"})
    assert posted.status == 403
    assert (await vera.post(f"{base}/channels", json={"name": "mine"})).status == 403


async def test_dm_and_deal_channels_cannot_be_renamed(team: dict[str, User], base: str) -> None:
    alice, bob = team["alice"], team["bob"]
    dm = (await alice.post(f"{base}/channels", json={"kind": "dm", "member_ids": [bob.id]})).json
    response = await alice.patch(f"{base}/channels/{dm['id']}", json={"name": "ours"})
    assert response.status == 403 and response.json["error"]["code"] == "channel_not_editable"
    added = await alice.post(f"{base}/channels/{dm['id']}/members", json={"user_ids": [team["carol"].id]})
    assert added.status == 403
