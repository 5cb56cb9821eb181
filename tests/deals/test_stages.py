"""Pipeline stages: admins add, rename, reorder and delete; the rules that keep a board usable."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tests.deals.conftest import new_deal, table_counts
from tests.helpers import User


async def test_new_org_has_the_default_pipeline(stages: list[dict[str, Any]]) -> None:
    assert [(s["name"], s["kind"], s["position"]) for s in stages] == [
        ("Lead", "open", 0),
        ("Qualified", "open", 1),
        ("Proposal", "open", 2),
        ("Negotiation", "open", 3),
        ("Won", "won", 4),
        ("Lost", "lost", 5),
    ]


async def test_admin_adds_a_stage_at_a_position(alice: User, base: str) -> None:
    response = await alice.post(f"{base}/stages", json={"name": "Demo", "kind": "open", "position": 1})
    assert response.status == 201, response.json
    assert response.json["position"] == 1
    names = [s["name"] for s in (await alice.get(f"{base}/stages")).json["items"]]
    assert names == ["Lead", "Demo", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    positions = [s["position"] for s in (await alice.get(f"{base}/stages")).json["items"]]
    assert positions == list(range(7))


async def test_stage_without_position_goes_last(alice: User, base: str) -> None:
    response = await alice.post(f"{base}/stages", json={"name": "Parked", "kind": "lost"})
    assert response.status == 201
    assert response.json["position"] == 6


async def test_rename_and_reorder(alice: User, base: str, stage_ids: dict[str, int]) -> None:
    response = await alice.patch(f"{base}/stages/{stage_ids['Won']}", json={"name": "Closed won", "position": 0})
    assert response.status == 200, response.json
    assert response.json["name"] == "Closed won"
    names = [s["name"] for s in (await alice.get(f"{base}/stages")).json["items"]]
    assert names == ["Closed won", "Lead", "Qualified", "Proposal", "Negotiation", "Lost"]


async def test_moving_a_stage_reports_the_new_column_order(
    alice: User, base: str, stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    response = await alice.patch(f"{base}/stages/{stage_ids['Lost']}", json={"position": 1})
    assert response.status == 200
    data = await sql.fetchval("SELECT data FROM events WHERE type = 'stage.updated'")
    ids = list(stage_ids.values())
    assert json.loads(data)["order"] == [ids[0], ids[5], *ids[1:5]]
    assert [s["id"] for s in (await alice.get(f"{base}/stages")).json["items"]] == [ids[0], ids[5], *ids[1:5]]


async def test_stale_stage_version_is_409(alice: User, base: str, stage_ids: dict[str, int]) -> None:
    first = await alice.patch(f"{base}/stages/{stage_ids['Lead']}", json={"name": "Inbound", "version": 1})
    assert first.status == 200
    stale = await alice.patch(f"{base}/stages/{stage_ids['Lead']}", json={"name": "Outbound", "version": 1})
    assert stale.status == 409
    assert stale.json["error"]["current"]["name"] == "Inbound"


async def test_delete_only_empty_stages(
    alice: User, base: str, stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    deal = await new_deal(alice, base, stage_id=stage_ids["Proposal"])
    busy = await alice.delete(f"{base}/stages/{stage_ids['Proposal']}")
    assert busy.status == 409
    assert busy.json["error"]["code"] == "stage_not_empty"
    moved = await alice.post(
        f"{base}/deals/{deal['id']}/move", json={"stage_id": stage_ids["Lead"], "version": deal["version"]}
    )
    assert moved.status == 200
    empty = await alice.delete(f"{base}/stages/{stage_ids['Proposal']}")
    assert empty.status == 204
    stages = (await alice.get(f"{base}/stages")).json["items"]
    assert [s["name"] for s in stages] == ["Lead", "Qualified", "Negotiation", "Won", "Lost"]
    assert [s["position"] for s in stages] == list(range(5))
    assert (await alice.delete(f"{base}/stages/{stage_ids['Proposal']}")).status == 404


async def test_kind_of_a_stage_with_deals_cannot_change(alice: User, base: str, stage_ids: dict[str, int]) -> None:
    await new_deal(alice, base, stage_id=stage_ids["Qualified"])
    response = await alice.patch(f"{base}/stages/{stage_ids['Qualified']}", json={"kind": "won"})
    assert response.status == 409
    assert response.json["error"]["code"] == "stage_not_empty"


async def test_the_last_open_stage_stays(alice: User, base: str, stage_ids: dict[str, int]) -> None:
    for name in ("Lead", "Qualified", "Proposal"):
        assert (await alice.delete(f"{base}/stages/{stage_ids[name]}")).status == 204
    last = await alice.delete(f"{base}/stages/{stage_ids['Negotiation']}")
    assert last.status == 409
    assert last.json["error"]["code"] == "last_open_stage"
    rekind = await alice.patch(f"{base}/stages/{stage_ids['Negotiation']}", json={"kind": "lost"})
    assert rekind.status == 409
    assert rekind.json["error"]["code"] == "last_open_stage"


async def test_members_cannot_edit_stages(
    member: User, base: str, stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    before = await table_counts(sql)
    responses = [
        await member.post(f"{base}/stages", json={"name": "Mine"}),
        await member.patch(f"{base}/stages/{stage_ids['Lead']}", json={"name": "Mine"}),
        await member.delete(f"{base}/stages/{stage_ids['Lead']}"),
    ]
    assert [r.status for r in responses] == [403, 403, 403]
    assert (await member.get(f"{base}/stages")).status == 200
    assert await table_counts(sql) == before


async def test_another_orgs_stage_is_404(
    alice: User, bob: User, base: str, other_org: dict[str, Any], sql: asyncpg.Connection
) -> None:
    bobs_stage = (await bob.get(f"/api/v1/orgs/{other_org['slug']}/stages")).json["items"][0]
    before = await table_counts(sql)
    patched = await alice.patch(f"{base}/stages/{bobs_stage['id']}", json={"name": "Hijacked"})
    deleted = await alice.delete(f"{base}/stages/{bobs_stage['id']}")
    assert (patched.status, deleted.status) == (404, 404)
    assert patched.json["error"]["code"] == "stage_not_found"
    assert await table_counts(sql) == before
    assert (await bob.get(f"/api/v1/orgs/{other_org['slug']}/stages")).json["items"][0] == bobs_stage
