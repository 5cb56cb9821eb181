"""Events cross instances: a write through A reaches sockets on B, in order, only for members."""

from __future__ import annotations

from typing import Any

from tests.realtime.conftest import Instance, Person, add_member


async def rename(person: Person, org: dict[str, Any], name: str, via: Instance) -> dict[str, Any]:
    status, body = await person.request("PATCH", f"/orgs/{org['slug']}", json={"name": name}, via=via)
    assert status == 200, body
    return dict(body)


async def test_write_through_a_reaches_member_on_b(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    await add_member(alice, org, bob)
    watcher = await bob.connect(b)
    ack = await watcher.join(org["slug"])
    assert ack["org"] == org["id"] and ack["resync"] is False

    await rename(alice, org, "Acme Renamed", via=a)

    event = await watcher.next_event(lambda e: e["type"] == "org.updated")
    assert event["org"] == org["id"]
    assert event["seq"] > ack["seq"]
    assert event["data"]["name"] == "Acme Renamed"
    assert "audience" not in event
    assert set(event) == {"type", "org", "seq", "id", "at", "actor", "data"}
