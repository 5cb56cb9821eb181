"""Chat over socket.io on real instances: send, typing and read between clients on different servers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.realtime.conftest import Http, Instance, LiveClient, Person, add_member


@pytest.fixture
async def carol(http: Http) -> Person:
    return await http.signup("carol@example.com", "Carol Clark")


async def channel(person: Person, org: dict[str, Any], name: str, kind: str = "public", members: Any = ()) -> int:
    status, body = await person.request(
        "POST", f"/orgs/{org['slug']}/channels", json={"name": name, "kind": kind, "member_ids": list(members)}
    )
    assert status == 201, body
    return int(body["id"])


async def flush(client: LiveClient) -> None:
    """A round trip on this socket: whatever the server sent it before is queued now."""
    ack = await client.call("no:such-event", {})
    assert ack["error"]["code"] == "unknown_event"


def drain(client: LiveClient) -> list[dict[str, Any]]:
    received = []
    while not client.events.empty():
        received.append(client.events.get_nowait())
    return received


def chat(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "chat.message")


@pytest.fixture
async def room(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, carol: Person, org: dict[str, Any]
) -> dict[str, Any]:
    """Alice on A; Bob and Carol on B; all joined to the org."""
    a, b = instances
    await add_member(alice, org, bob)
    await add_member(alice, org, carol)
    clients = {"alice": await alice.connect(a), "bob": await bob.connect(b), "carol": await carol.connect(b)}
    for client in clients.values():
        await client.join(org["slug"])
    return clients


async def test_chat_between_clients_on_different_instances(
    room: dict[str, Any], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    general = await channel(alice, org, "general")
    payload = {"org": org["slug"], "channel": general, "body": "hello @bob", "client_id": "m-1"}
    ack = await room["alice"].call("chat:send", payload)
    assert ack["ok"] is True and ack["created"] is True, ack
    message = ack["message"]
    assert message["body"] == "hello @bob" and message["author_id"] == alice.id
    event = await room["bob"].next_event(chat)
    assert event["data"] == {"action": "created", "channel_id": general, "message": message}
    note = await room["bob"].next_event(lambda e: e["type"] == "notification.created")
    assert note["data"]["kind"] == "mention" and note["data"]["data"]["message_id"] == message["id"]
    # a retry (say after a reconnect) is the same message, and no new event
    retry = await room["alice"].call("chat:send", payload)
    assert retry["ok"] is True and retry["created"] is False and retry["message"]["id"] == message["id"]
    status, history = await bob.request("GET", f"/orgs/{org['slug']}/channels/{general}/messages")
    assert status == 200 and [m["id"] for m in history["items"]] == [message["id"]]
    # the REST API and the socket agree on history and events
    status, body = await bob.request(
        "POST", f"/orgs/{org['slug']}/channels/{general}/messages", json={"body": "hi back"}
    )
    assert status == 201, body
    back = await room["alice"].next_event(lambda e: chat(e) and e["actor"] == bob.id)
    assert back["data"]["message"]["body"] == "hi back"
    assert back["seq"] > event["seq"]


async def test_private_messages_never_reach_a_non_members_socket(
    room: dict[str, Any], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    secret = await channel(alice, org, "secret", "private", [bob.id])
    general = await channel(alice, org, "general")
    drain(room["carol"])
    for n in range(3):
        ack = await room["alice"].call(
            "chat:send", {"org": org["id"], "channel": secret, "body": f"psst {n}", "client_id": f"s-{n}"}
        )
        assert ack["ok"], ack
    marker = await room["alice"].call(
        "chat:send", {"org": org["id"], "channel": general, "body": "public", "client_id": "p-1"}
    )
    assert marker["ok"], marker
    got = await room["bob"].next_event(lambda e: chat(e) and e["data"]["message"]["body"] == "psst 2")
    assert got["data"]["channel_id"] == secret
    # events arrive in seq order: once Carol has the later public message, the private ones would be before it
    await room["carol"].next_event(lambda e: chat(e) and e["data"]["message"]["id"] == marker["message"]["id"])
    seen = drain(room["carol"])
    assert all(e["data"].get("channel_id") != secret for e in seen)
    # nor can she send, type or read there
    for event, extra in (
        ("chat:send", {"body": "let me in", "client_id": "c-1"}),
        ("chat:typing", {}),
        ("chat:read", {"message_id": got["data"]["message"]["id"]}),
    ):
        ack = await room["carol"].call(event, {"org": org["id"], "channel": secret, **extra})
        assert ack == {"ok": False, "error": {"code": "channel_not_found", "message": "No such channel."}}, event
    ack = await room["carol"].call("presence:enter", {"org": org["id"], "topic": f"channel:{secret}"})
    assert ack["ok"] is False


async def test_typing_reaches_the_channel_audience_but_not_the_typist(
    room: dict[str, Any], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    secret = await channel(alice, org, "secret", "private", [bob.id])
    general = await channel(alice, org, "general")
    ack = await room["bob"].call("chat:typing", {"org": org["slug"], "channel": secret})
    assert ack == {"ok": True}
    typing = await room["alice"].next_event(lambda e: e["type"] == "chat.typing")
    assert typing["seq"] is None and typing["actor"] == bob.id
    assert typing["data"] == {"channel_id": secret, "user_id": bob.id}
    await flush(room["carol"])
    await flush(room["bob"])
    assert [e for e in drain(room["carol"]) if e["type"] == "chat.typing"] == []
    assert [e for e in drain(room["bob"]) if e["type"] == "chat.typing"] == []
    assert (await room["alice"].call("chat:typing", {"org": org["slug"], "channel": general}))["ok"]
    public = await room["carol"].next_event(lambda e: e["type"] == "chat.typing")
    assert public["data"] == {"channel_id": general, "user_id": alice.id}


async def test_read_positions_over_the_socket(
    room: dict[str, Any], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    general = await channel(alice, org, "general")
    ids = []
    for n in range(3):
        ack = await room["alice"].call(
            "chat:send", {"org": org["id"], "channel": general, "body": f"n{n}", "client_id": f"r-{n}"}
        )
        ids.append(ack["message"]["id"])
    ack = await room["bob"].call("chat:read", {"org": org["id"], "channel": general, "message_id": ids[1]})
    assert ack["ok"] is True
    assert ack["read"] == {"channel_id": general, "user_id": bob.id, "last_read_message_id": ids[1], "unread_count": 1}
    read = await room["alice"].next_event(lambda e: e["type"] == "chat.read")
    assert read["data"] == {"channel_id": general, "user_id": bob.id, "message_id": ids[1]}
    status, body = await bob.request("GET", f"/orgs/{org['slug']}/channels/{general}")
    assert status == 200
    assert body["unread_count"] == 1 and body["last_read_message_id"] == ids[1]


async def test_bad_chat_events_get_error_acks(
    room: dict[str, Any], alice: Person, bob: Person, carol: Person, http: Http, org: dict[str, Any]
) -> None:
    general = await channel(alice, org, "general")
    other = await channel(bob, org, "other")
    status, rival = await carol.request("POST", "/orgs", json={"name": "Rival Corp"})
    assert status == 201
    theirs = await channel(carol, rival, "theirs")
    client = room["alice"]
    good = {"org": org["id"], "channel": general, "body": "ok", "client_id": "g-1"}
    sent = await client.call("chat:send", good)
    cases = [
        ("chat:send", "just a string", "validation_error"),
        ("chat:send", {**good, "client_id": None}, "validation_error"),
        ("chat:send", {k: v for k, v in good.items() if k != "client_id"}, "validation_error"),
        ("chat:send", {**good, "channel": "general"}, "validation_error"),
        ("chat:send", {**good, "channel": -1}, "validation_error"),
        ("chat:send", {**good, "body": 42}, "validation_error"),
        ("chat:send", {**good, "client_id": "x" * 101}, "validation_error"),
        ("chat:send", {**good, "client_id": "big", "body": "x" * 4001}, "message_too_large"),
        ("chat:send", {**good, "client_id": "huge", "body": "x" * 100_000}, "payload_too_large"),
        ("chat:send", {**good, "client_id": "blank", "body": "   "}, "validation_error"),
        ("chat:send", {**good, "client_id": "nul", "body": "a\x00b"}, "validation_error"),
        ("chat:send", {**good, "client_id": "x\x00"}, "validation_error"),
        ("chat:send", {**good, "client_id": "float", "channel": 1.5}, "validation_error"),
        ("chat:send", {**good, "client_id": "huge-id", "channel": 2**64}, "validation_error"),
        ("chat:send", {**good, "client_id": "nowhere", "channel": 999999}, "channel_not_found"),
        ("chat:send", {**good, "client_id": "foreign", "channel": theirs}, "channel_not_found"),
        ("chat:send", {**good, "client_id": "rival", "org": rival["slug"], "channel": theirs}, "not_found"),
        ("chat:send", {**good, "client_id": "g-1", "channel": other}, "client_id_reused"),
        ("chat:typing", {"org": org["id"]}, "validation_error"),
        ("chat:typing", {"org": org["id"], "channel": 999999}, "channel_not_found"),
        ("chat:typing", {"org": "no-such-org", "channel": general}, "not_found"),
        ("chat:read", {"org": org["id"], "channel": general}, "validation_error"),
        ("chat:read", {"org": org["id"], "channel": general, "message_id": 999999}, "message_not_found"),
        ("chat:read", {"org": org["id"], "channel": other, "message_id": sent["message"]["id"]}, "message_not_found"),
        ("chat:read", {"org": org["id"], "channel": theirs, "message_id": 1}, "channel_not_found"),
    ]
    for event, payload, code in cases:
        ack = await client.call(event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == code, (
            event,
            payload if len(str(payload)) < 200 else "",
            ack,
        )
    # the connection survived all of it
    assert (await client.call("chat:send", {**good, "client_id": "g-2", "body": "still here"}))["ok"] is True
    status, history = await alice.request("GET", f"/orgs/{org['slug']}/channels/{general}/messages")
    assert [m["body"] for m in history["items"]] == ["still here", "ok"]


async def test_viewer_cannot_send_but_can_read(
    instances: tuple[Instance, Instance], alice: Person, http: Http, org: dict[str, Any]
) -> None:
    vera = await http.signup("vera@example.com", "Vera Viewer")
    await add_member(alice, org, vera, "viewer")
    general = await channel(alice, org, "general")
    writer = await alice.connect(instances[0])
    sent = await writer.call("chat:send", {"org": org["id"], "channel": general, "body": "hi", "client_id": "v-1"})
    client = await vera.connect(instances[1])
    ack = await client.call("chat:send", {"org": org["id"], "channel": general, "body": "hi", "client_id": "v-2"})
    assert ack["ok"] is False and ack["error"]["code"] == "read_only"
    ack = await client.call("chat:read", {"org": org["id"], "channel": general, "message_id": sent["message"]["id"]})
    assert ack["ok"] is True and ack["read"]["unread_count"] == 0


async def test_history_kept_from_events_equals_a_fresh_get(
    room: dict[str, Any], alice: Person, org: dict[str, Any]
) -> None:
    general = await channel(alice, org, "general")
    base = f"/orgs/{org['slug']}/channels/{general}/messages"
    ids = []
    for n in range(4):
        ack = await room["alice"].call(
            "chat:send", {"org": org["id"], "channel": general, "body": f"draft {n}", "client_id": f"h-{n}"}
        )
        ids.append(ack["message"]["id"])
    status, _ = await alice.request("PATCH", f"{base}/{ids[1]}", json={"body": "final 1"})
    assert status == 200
    status, _ = await alice.request("DELETE", f"{base}/{ids[2]}")
    assert status == 204
    kept: dict[int, dict[str, Any]] = {}
    while True:  # Bob's client applies what it receives, in order, until the delete arrives
        event = await room["bob"].next_event(chat)
        message = event["data"]["message"]
        kept[message["id"]] = message
        if event["data"]["action"] == "deleted":
            break
    status, fresh = await alice.request("GET", base)
    assert status == 200
    assert [kept[i] for i in sorted(kept, reverse=True)] == fresh["items"]
