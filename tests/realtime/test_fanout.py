"""Events cross instances: a write through A reaches sockets on B, in order, only for those who may see it."""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart

from crm.uow import write_transaction
from tests.realtime.conftest import TIMEOUT, Http, Instance, LiveClient, Person, add_member


async def rename(person: Person, org: dict[str, Any], name: str, via: Instance) -> dict[str, Any]:
    status, body = await person.request("PATCH", f"/orgs/{org['slug']}", json={"name": name}, via=via)
    assert status == 200, body
    return dict(body)


async def flush(client: LiveClient) -> None:
    """A round trip on this socket: anything the server sent it before is in its queue now."""
    ack = await client.call("no:such-event", {})
    assert ack["error"]["code"] == "unknown_event"


def drain(client: LiveClient) -> list[dict[str, Any]]:
    events = []
    while not client.events.empty():
        events.append(client.events.get_nowait())
    return events


async def test_write_through_a_reaches_member_on_b(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    await add_member(alice, org, bob)
    watcher = await bob.connect(b)
    ack = await watcher.join(org["slug"])
    assert ack["org"] == org["id"] and ack["resync"] is False and ack["events"] == []

    await rename(alice, org, "Acme Renamed", via=a)

    event = await watcher.next_event(lambda e: e["type"] == "org.updated")
    assert event["org"] == org["id"]
    assert event["seq"] == ack["seq"] + 1
    assert event["actor"] == alice.id
    assert event["data"]["name"] == "Acme Renamed"
    assert set(event) == {"type", "org", "seq", "id", "at", "actor", "data"}


async def test_events_arrive_in_seq_order_on_both_instances(
    instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    on_a, on_b = await alice.connect(a), await alice.connect(b)
    start = (await on_a.join(org["id"]))["seq"]
    await on_b.join(org["id"])

    for n in range(10):
        await rename(alice, org, f"Acme {n}", via=a if n % 2 else b)

    for client in (on_a, on_b):
        received = [await client.next_event() for _ in range(10)]
        assert [e["seq"] for e in received] == list(range(start + 1, start + 11))
        assert [e["data"]["name"] for e in received] == [f"Acme {n}" for n in range(10)]


async def test_non_member_cannot_join(instances: tuple[Instance, Instance], bob: Person, org: dict[str, Any]) -> None:
    outsider = await bob.connect(instances[1])
    for ref in (org["slug"], org["id"], "no-such-org", 2**62):
        ack = await outsider.call("org:join", {"org": ref})
        assert ack == {"ok": False, "error": {"code": "not_found", "message": "No such organisation."}}


async def test_removed_member_stops_receiving_on_every_instance(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    await add_member(alice, org, bob)
    bob_sockets = [await bob.connect(a), await bob.connect(b)]
    for client in bob_sockets:
        await client.join(org["slug"])
    witness = await alice.connect(b)
    await witness.join(org["slug"])

    status, _ = await alice.request("DELETE", f"/orgs/{org['slug']}/members/{bob.id}", via=a)
    assert status == 204
    for client in bob_sockets:
        removal = await client.next_event(lambda e: e["type"] == "member.changed")
        assert removal["data"] == {"user_id": bob.id, "change": "removed"}

    await rename(alice, org, "After Bob", via=a)
    await witness.next_event(lambda e: e["type"] == "org.updated")
    for client in bob_sockets:
        await flush(client)
        assert [e for e in drain(client) if e["type"] == "org.updated"] == []
        rejoin = await client.call("org:join", {"org": org["slug"]})
        assert rejoin["error"]["code"] == "not_found"


async def test_event_for_named_users_reaches_only_them(
    app: Quart, instances: tuple[Instance, Instance], http: Http, alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    carol = await http.signup("carol@example.com", "Carol Chen")
    await add_member(alice, org, bob)
    await add_member(alice, org, carol)
    bob_socket, carol_socket = await bob.connect(instances[1]), await carol.connect(instances[0])
    await bob_socket.join(org["slug"])
    await carol_socket.join(org["slug"])

    # written without publishing (as if the process died after commit): the relay delivers both
    async with app.app_context(), write_transaction(app.extensions["db"]) as tx:
        await tx.event(
            org["id"], "note.private", actor=alice.id, data={"n": 1}, audience={"scope": "users", "user_ids": [bob.id]}
        )
        await tx.event(org["id"], "note.public", actor=alice.id, data={"n": 2})

    private = await bob_socket.next_event()
    assert (private["type"], private["data"]) == ("note.private", {"n": 1})
    assert (await bob_socket.next_event())["type"] == "note.public"
    public = await carol_socket.next_event()
    assert public["type"] == "note.public"
    await flush(carol_socket)
    assert drain(carol_socket) == []

    replay = await carol_socket.join(org["slug"], after_seq=private["seq"] - 1)
    assert [e["type"] for e in replay["events"]] == ["note.public"]


async def test_revoked_session_is_disconnected_on_its_instance(
    instances: tuple[Instance, Instance], http: Http, bob: Person
) -> None:
    a, b = instances
    laptop = await bob.connect(b)
    phone = await http.another_session(bob)
    phone_socket = await phone.connect(b)

    status, _ = await phone.request("DELETE", f"/auth/sessions/{bob.session_id}", via=a)
    assert status == 204

    notice = await asyncio.wait_for(laptop.revoked.get(), TIMEOUT)
    assert notice == {"session_id": bob.session_id}
    await asyncio.wait_for(laptop.disconnected.wait(), TIMEOUT)
    assert phone_socket.sio.connected
    ack = await phone_socket.call("no:such-event", {})
    assert ack["error"]["code"] == "unknown_event"
