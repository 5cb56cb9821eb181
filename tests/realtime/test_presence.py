"""Presence: who is on a topic, shared by every instance, gone when a socket or an instance is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from crm.config import Config
from realtime.presence import topic_key
from tests.realtime.conftest import Http, Instance, LiveClient, Person, add_member


def names(message: dict[str, Any]) -> list[str]:
    return [user["name"] for user in message["users"]]


def on_board(org: dict[str, Any], *people: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["org"] == org["id"] and m["topic"] == "board" and names(m) == list(people)


async def enter(client: LiveClient, org: dict[str, Any], topic: str = "board") -> dict[str, Any]:
    ack = await client.call("presence:enter", {"org": org["slug"], "topic": topic})
    assert ack["ok"], ack
    return dict(ack)


async def test_presence_is_shared_across_instances(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    await add_member(alice, org, bob)
    alice_socket, bob_socket = await alice.connect(a), await bob.connect(b)
    await alice_socket.join(org["slug"])
    await bob_socket.join(org["slug"])

    ack = await enter(alice_socket, org)
    assert ack["users"] == [{"id": alice.id, "name": "Alice Adams"}]
    await bob_socket.next_presence(on_board(org, "Alice Adams"))

    await enter(bob_socket, org)
    await alice_socket.next_presence(on_board(org, "Alice Adams", "Bob Brown"))

    left = await bob_socket.call("presence:leave", {"org": org["slug"], "topic": "board"})
    assert names(left) == ["Alice Adams"]
    await alice_socket.next_presence(on_board(org, "Alice Adams"))

    await alice_socket.close()
    await bob_socket.next_presence(on_board(org))


async def test_deal_topics_are_separate(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    await add_member(alice, org, bob)
    alice_socket, bob_socket = await alice.connect(instances[0]), await bob.connect(instances[1])
    await alice_socket.join(org["slug"])
    await bob_socket.join(org["slug"])
    await enter(alice_socket, org, "deal:7")
    ack = await enter(bob_socket, org, "deal:8")
    assert names(ack) == ["Bob Brown"]
    message = await alice_socket.next_presence(lambda m: m["topic"] == "deal:8")
    assert names(message) == ["Bob Brown"]


async def test_users_of_a_killed_instance_leave_presence(
    instances: tuple[Instance, Instance],
    spawn: Callable[..., Any],
    http: Http,
    alice: Person,
    org: dict[str, Any],
) -> None:
    carol = await http.signup("carol@example.com", "Carol Chen")
    await add_member(alice, org, carol)
    doomed = await spawn()
    watcher = await alice.connect(instances[0])
    await watcher.join(org["slug"])
    await enter(watcher, org)
    carol_socket = await carol.connect(doomed)
    await carol_socket.join(org["slug"])
    await enter(carol_socket, org)
    await watcher.next_presence(on_board(org, "Alice Adams", "Carol Chen"))

    doomed.kill()

    # the presence TTL in these instances is 3 s; allow for sweeps and slow machines
    await watcher.next_presence(on_board(org, "Alice Adams"), timeout=20)


async def test_a_user_whose_entry_lapsed_is_announced_again(
    instances: tuple[Instance, Instance], config: Config, alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    # an instance that stalls past the TTL has its users swept (and a list without them
    # broadcast) by another instance; its next heartbeat must announce them again
    a, b = instances
    await add_member(alice, org, bob)
    alice_socket, bob_socket = await alice.connect(a), await bob.connect(b)
    await alice_socket.join(org["slug"])
    await bob_socket.join(org["slug"])
    await enter(alice_socket, org)
    await bob_socket.next_presence(on_board(org, "Alice Adams"))

    client = aioredis.Redis.from_url(config.redis_url)
    try:
        await client.delete(topic_key(org["id"], "board"))  # what a sweep of Alice's lapsed entry does
    finally:
        await client.aclose()
    ack = await enter(bob_socket, org)
    assert names(ack) == ["Bob Brown"]

    await bob_socket.next_presence(on_board(org, "Alice Adams", "Bob Brown"))


async def test_presence_needs_a_joined_org_and_a_known_topic(
    instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    client = await alice.connect(instances[1])
    before_join = await client.call("presence:enter", {"org": org["slug"], "topic": "board"})
    assert before_join["error"]["code"] == "not_joined"
    await client.join(org["slug"])
    for topic in ("lobby", "deal:", "deal:0", "deal:abc", "channel:-1", "board ", "deal:" + "9" * 30):
        ack = await client.call("presence:enter", {"org": org["slug"], "topic": topic})
        assert ack["error"]["code"] == "validation_error", (topic, ack)
    wrong_type = await client.call("presence:enter", {"org": org["slug"], "topic": 5})
    assert wrong_type["error"]["fields"] == {"topic": "Input should be a valid string"}
