"""Event correctness, zulip style: a board kept only from received events equals a fresh GET /pipeline."""

from __future__ import annotations

from typing import Any

from tests.realtime.conftest import Instance, LiveClient, Person, add_member


def apply(board: dict[int, list[dict[str, Any]]], event: dict[str, Any]) -> None:
    """What the browser's board does with a deal event."""
    deal = event["data"]
    for cards in board.values():
        cards[:] = [card for card in cards if card["id"] != deal["id"]]
    if event["type"] != "deal.deleted":
        board[deal["stage_id"]].append(deal)
        board[deal["stage_id"]].sort(key=lambda card: card["position"])


def columns(pipeline: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    return {stage["id"]: list(stage["deals"]) for stage in pipeline["stages"]}


def comparable(board: dict[int, list[dict[str, Any]]], fields: list[str]) -> dict[int, list[dict[str, Any]]]:
    return {stage: [{f: card[f] for f in fields} for card in cards] for stage, cards in board.items()}


async def call(person: Person, method: str, path: str, via: Instance, **kwargs: Any) -> Any:
    status, body = await person.request(method, path, via=via, **kwargs)
    assert status in (200, 201, 204), (method, path, status, body)
    return body


async def test_board_from_events_matches_fresh_pipeline(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    a, b = instances
    await add_member(alice, org, bob)
    base = f"/orgs/{org['slug']}"
    watcher: LiveClient = await bob.connect(b)
    await watcher.join(org["slug"])
    initial = await call(bob, "GET", f"{base}/pipeline", via=b)
    board = columns(initial)
    lead, qualified, proposal = (stage["id"] for stage in initial["stages"][:3])

    deals = []
    for n in range(6):
        deals.append(
            await call(
                alice, "POST", f"{base}/deals", via=a if n % 2 else b,
                json={"title": f"Deal {n}", "amount": 1000 * (n + 1), "stage_id": lead},
            )
        )  # fmt: skip
    moved = await call(
        alice, "POST", f"{base}/deals/{deals[0]['id']}/move", via=b,
        json={"stage_id": qualified, "version": deals[0]["version"]},
    )  # fmt: skip
    await call(
        bob, "POST", f"{base}/deals/{deals[1]['id']}/move", via=a,
        json={"stage_id": qualified, "before_id": moved["id"], "version": deals[1]["version"]},
    )  # fmt: skip
    await call(
        alice, "POST", f"{base}/deals/{deals[5]['id']}/move", via=a,
        json={"stage_id": lead, "after_id": deals[2]["id"], "version": deals[5]["version"]},
    )  # fmt: skip
    await call(
        bob, "PATCH", f"{base}/deals/{deals[3]['id']}", via=b,
        json={"title": "Deal 3, renamed", "amount": 99, "version": deals[3]["version"]},
    )  # fmt: skip
    await call(
        alice, "PATCH", f"{base}/deals/{deals[4]['id']}", via=a,
        json={"stage_id": proposal, "version": deals[4]["version"]},
    )  # fmt: skip
    await call(alice, "DELETE", f"{base}/deals/{deals[2]['id']}", via=b)
    status, _ = await alice.request("PATCH", base, json={"name": "Sentinel"}, via=a)
    assert status == 200

    applied = 0
    while (event := await watcher.next_event())["type"] != "org.updated":
        if event["type"].startswith("deal."):
            apply(board, event)
            applied += 1
    assert applied == 12

    fresh = await call(bob, "GET", f"{base}/pipeline", via=a)
    fields = sorted(fresh["stages"][0]["deals"][0]) if fresh["stages"][0]["deals"] else ["id", "position"]
    assert comparable(board, fields) == comparable(columns(fresh), fields)
    for stage in fresh["stages"]:
        assert stage["count"] == len(board[stage["id"]])
        assert stage["value"] == sum(card["amount"] for card in board[stage["id"]])
