"""No loss: missed events replay in order after a reconnect, and a Redis outage loses nothing."""

from __future__ import annotations

from typing import Any

from quart import Quart

from crm.uow import write_transaction
from tests.realtime.conftest import Instance, Person


async def rename(person: Person, org: dict[str, Any], name: str, via: Instance) -> None:
    status, body = await person.request("PATCH", f"/orgs/{org['slug']}", json={"name": name}, via=via)
    assert status == 200, body


async def test_reconnect_with_after_seq_gets_exactly_the_missed_events_in_order(
    instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    first = await alice.connect(b)
    await first.join(org["slug"])
    await rename(alice, org, "Seen live", via=a)
    last_applied = (await first.next_event())["seq"]
    await first.close()

    for n in range(5):
        await rename(alice, org, f"Missed {n}", via=a)

    again = await alice.connect(b)
    ack = await again.join(org["slug"], after_seq=last_applied)
    assert ack["resync"] is False
    assert [e["seq"] for e in ack["events"]] == list(range(last_applied + 1, last_applied + 6))
    assert [e["data"]["name"] for e in ack["events"]] == [f"Missed {n}" for n in range(5)]
    assert ack["seq"] == last_applied + 5

    await rename(alice, org, "Live again", via=a)
    live = await again.next_event()
    assert (live["seq"], live["data"]["name"]) == (last_applied + 6, "Live again")


async def test_join_says_resync_when_the_missed_events_are_gone(
    app: Quart, instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    for n in range(3):
        await rename(alice, org, f"Old {n}", via=instances[0])
    # retention pruned the oldest events
    await app.extensions["db"].execute("DELETE FROM events WHERE org_id = :org AND seq <= 2", {"org": org["id"]})
    client = await alice.connect(instances[1])

    pruned = await client.join(org["slug"], after_seq=0)
    assert (pruned["resync"], pruned["events"]) == (True, [])
    from_the_future = await client.join(org["slug"], after_seq=pruned["seq"] + 10)
    assert from_the_future["resync"] is True
    kept = await client.join(org["slug"], after_seq=2)
    assert kept["resync"] is False and [e["data"]["name"] for e in kept["events"]] == ["Old 2"]


async def test_relay_publishes_events_whose_publisher_died_after_commit(
    app: Quart, instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    client = await alice.connect(instances[1])
    start = (await client.join(org["slug"]))["seq"]
    # the test process commits without any publisher, like an instance killed right after COMMIT
    async with app.app_context(), write_transaction(app.extensions["db"]) as tx:
        for n in range(3):
            await tx.event(org["id"], "note.stranded", actor=alice.id, data={"n": n})

    received = [await client.next_event() for _ in range(3)]
    assert [(e["seq"], e["data"]["n"]) for e in received] == [(start + 1, 0), (start + 2, 1), (start + 3, 2)]
