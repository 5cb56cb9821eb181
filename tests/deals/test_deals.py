"""Deals CRUD: defaults, references into the org, won/lost stamps, versions, roles and tenancy."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.deals.conftest import new_company, new_contact, new_deal, table_counts
from tests.helpers import Api, User

DEAL_FIELDS = {
    "id",
    "title",
    "amount",
    "currency",
    "stage_id",
    "position",
    "owner_id",
    "contact_id",
    "company_id",
    "expected_close_date",
    "probability",
    "won_at",
    "lost_at",
    "version",
    "created_at",
    "updated_at",
}


async def test_new_deal_lands_at_bottom_of_first_open_stage_owned_by_caller(
    alice: User, base: str, stage_ids: dict[str, int]
) -> None:
    first = await new_deal(alice, base, title="Renewal", amount=120_000)
    second = await new_deal(alice, base, title="Expansion")
    assert set(first) >= DEAL_FIELDS
    assert first["stage_id"] == stage_ids["Lead"]
    assert first["owner_id"] == alice.id
    assert first["currency"] == "USD"
    assert first["version"] == 1
    assert first["won_at"] is None and first["lost_at"] is None
    assert first["position"] < second["position"]


async def test_currency_defaults_to_the_orgs(alice: User) -> None:
    euro = await alice.create_org("Euro GmbH", currency="EUR")
    deal = await new_deal(alice, f"/api/v1/orgs/{euro['slug']}")
    assert deal["currency"] == "EUR"


async def test_create_with_links_and_read_back(
    alice: User, base: str, org: dict[str, Any], sql: asyncpg.Connection, stage_ids: dict[str, int]
) -> None:
    company = await new_company(sql, org["id"])
    contact = await new_contact(sql, org["id"])
    created = await new_deal(
        alice,
        base,
        title="Pilot",
        amount=999,
        currency="GBP",
        stage_id=stage_ids["Proposal"],
        company_id=company,
        contact_id=contact,
        expected_close_date="2031-03-31",
        probability=40,
    )
    fetched = await alice.get(f"{base}/deals/{created['id']}")
    assert fetched.status == 200
    assert fetched.json == created
    assert (fetched.json["company_id"], fetched.json["contact_id"]) == (company, contact)
    assert fetched.json["expected_close_date"] == "2031-03-31"
    assert fetched.json["currency"] == "GBP"


async def test_references_outside_the_org_are_422_and_write_nothing(
    alice: User, bob: User, base: str, other_org: dict[str, Any], sql: asyncpg.Connection
) -> None:
    foreign_company = await new_company(sql, other_org["id"], "Bob's Co")
    foreign_contact = await new_contact(sql, other_org["id"], "Bobson")
    foreign_stage = (await bob.get(f"/api/v1/orgs/{other_org['slug']}/stages")).json["items"][0]["id"]
    before = await table_counts(sql)
    cases = [
        ({"company_id": foreign_company}, "company_id"),
        ({"contact_id": foreign_contact}, "contact_id"),
        ({"owner_id": bob.id}, "owner_id"),
        ({"stage_id": foreign_stage}, "stage_id"),
        ({"company_id": 987654321}, "company_id"),
    ]
    for extra, field in cases:
        response = await alice.post(f"{base}/deals", json={"title": "Leak?", **extra})
        assert response.status == 422, (extra, response.json)
        assert field in response.json["error"]["fields"]
    assert await table_counts(sql) == before


async def test_patch_changes_fields_and_bumps_version(alice: User, base: str) -> None:
    deal = await new_deal(alice, base, probability=10)
    response = await alice.patch(
        f"{base}/deals/{deal['id']}", json={"title": "Bigger", "amount": 5000, "probability": None, "version": 1}
    )
    assert response.status == 200, response.json
    assert response.json["title"] == "Bigger"
    assert response.json["amount"] == 5000
    assert response.json["probability"] is None
    assert response.json["version"] == 2
    assert response.json["updated_at"] > deal["updated_at"]


async def test_patch_with_if_match_header(alice: User, base: str) -> None:
    deal = await new_deal(alice, base)
    ok = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "Via header"}, headers={"If-Match": '"1"'})
    assert ok.status == 200 and ok.json["version"] == 2
    stale = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "Again"}, headers={"If-Match": '"1"'})
    assert stale.status == 409


async def test_stale_version_is_409_with_the_current_record(alice: User, base: str, sql: asyncpg.Connection) -> None:
    deal = await new_deal(alice, base)
    first = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "First", "version": 1})
    assert first.status == 200
    events_before = await sql.fetchval("SELECT count(*) FROM events")
    second = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "Second", "version": 1})
    assert second.status == 409
    assert second.json["error"]["code"] == "version_conflict"
    assert second.json["error"]["current"] == first.json
    assert (await alice.get(f"{base}/deals/{deal['id']}")).json["title"] == "First"
    assert await sql.fetchval("SELECT count(*) FROM events") == events_before


async def test_patch_without_version_is_422(alice: User, base: str) -> None:
    deal = await new_deal(alice, base)
    response = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "No version"})
    assert response.status == 422
    assert "version" in response.json["error"]["fields"]


async def test_patch_stage_moves_card_to_bottom_and_stamps_won_then_clears(
    alice: User, base: str, stage_ids: dict[str, int]
) -> None:
    already_won = await new_deal(alice, base, stage_id=stage_ids["Won"])
    assert already_won["won_at"] is not None
    deal = await new_deal(alice, base)
    won = await alice.patch(f"{base}/deals/{deal['id']}", json={"stage_id": stage_ids["Won"], "version": 1})
    assert won.status == 200
    assert won.json["won_at"] is not None and won.json["lost_at"] is None
    assert won.json["won_at"] == won.json["updated_at"]
    assert won.json["position"] > already_won["position"]
    lost = await alice.patch(f"{base}/deals/{deal['id']}", json={"stage": stage_ids["Lost"], "version": 2})
    assert lost.status == 200
    assert lost.json["won_at"] is None and lost.json["lost_at"] is not None
    reopened = await alice.patch(f"{base}/deals/{deal['id']}", json={"stage_id": stage_ids["Qualified"], "version": 3})
    assert reopened.json["won_at"] is None and reopened.json["lost_at"] is None


async def test_delete_removes_the_deal_and_its_activities(alice: User, base: str, sql: asyncpg.Connection) -> None:
    deal = await new_deal(alice, base)
    note = await alice.post(f"{base}/activities", json={"type": "note", "subject": "Hi", "deal_id": deal["id"]})
    assert note.status == 201
    stale = await alice.delete(f"{base}/deals/{deal['id']}", headers={"If-Match": "7"})
    assert stale.status == 409
    response = await alice.delete(f"{base}/deals/{deal['id']}")
    assert response.status == 204
    assert (await alice.get(f"{base}/deals/{deal['id']}")).status == 404
    assert await sql.fetchval("SELECT count(*) FROM activities") == 0
    again = await alice.delete(f"{base}/deals/{deal['id']}")
    assert again.status == 404 and again.json["error"]["code"] == "deal_not_found"


async def test_member_writes_viewer_reads_only(
    alice: User, member: User, viewer: User, base: str, sql: asyncpg.Connection, stage_ids: dict[str, int]
) -> None:
    deal = await new_deal(member, base, title="By member")
    assert deal["owner_id"] == member.id
    assert (await viewer.get(f"{base}/deals/{deal['id']}")).status == 200
    assert (await viewer.get(f"{base}/pipeline")).status == 200
    before = await table_counts(sql)
    attempts = [
        await viewer.post(f"{base}/deals", json={"title": "No"}),
        await viewer.patch(f"{base}/deals/{deal['id']}", json={"title": "No", "version": 1}),
        await viewer.post(f"{base}/deals/{deal['id']}/move", json={"stage_id": stage_ids["Won"], "version": 1}),
        await viewer.delete(f"{base}/deals/{deal['id']}"),
        await viewer.post(f"{base}/stages", json={"name": "No"}),
    ]
    assert [a.status for a in attempts] == [403] * len(attempts)
    assert await table_counts(sql) == before


async def test_another_orgs_deal_is_404_on_every_route(
    alice: User, bob: User, base: str, other_org: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    bobs = await new_deal(bob, f"/api/v1/orgs/{other_org['slug']}", title="Secret")
    before = await table_counts(sql)
    path = f"{base}/deals/{bobs['id']}"
    responses = [
        await alice.get(path),
        await alice.patch(path, json={"title": "Mine now", "version": 1}),
        await alice.post(f"{path}/move", json={"stage_id": stage_ids["Won"], "version": 1}),
        await alice.delete(path),
    ]
    for response in responses:
        assert response.status == 404
        assert response.json["error"]["code"] == "deal_not_found"
        assert "Secret" not in str(response.json)
    # and Bob's org itself is invisible to Alice
    for route in ("deals", "pipeline", "stages", f"deals/{bobs['id']}"):
        response = await alice.get(f"/api/v1/orgs/{other_org['slug']}/{route}")
        assert response.status == 404, route
    listed = await alice.get(f"{base}/deals")
    assert listed.json["items"] == []
    assert await table_counts(sql) == before


async def test_anonymous_callers_get_401_and_oversize_bodies_413(
    api: Api, alice: User, base: str, sql: asyncpg.Connection
) -> None:
    deal = await new_deal(alice, base)
    for method, path in (
        ("GET", f"{base}/deals"),
        ("GET", f"{base}/deals/{deal['id']}"),
        ("GET", f"{base}/pipeline"),
        ("GET", f"{base}/stages"),
        ("POST", f"{base}/deals"),
        ("POST", f"{base}/deals/{deal['id']}/move"),
        ("GET", f"{base}/activities"),
    ):
        response = await api.request(method, path, json={})
        assert response.status == 401, path
        assert response.json["error"]["code"] == "not_authenticated"
    before = await table_counts(sql)
    huge = await alice.post(f"{base}/deals", json={"title": "x", "notes": "y" * 2_000_000})
    assert huge.status == 413
    assert huge.json["error"]["code"] == "payload_too_large"
    assert await table_counts(sql) == before
