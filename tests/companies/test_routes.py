from __future__ import annotations

from typing import Any

from quart import Quart

from tests.companies.support import assert_error, count_rows, create, outbox
from tests.helpers import Api, User


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/companies"


async def test_member_creates_reads_updates_and_deletes_a_company(app: Quart, alice: User, org: dict[str, Any]) -> None:
    created = await create(
        alice, org, "companies", name="  Acme Corp ", domain="ACME.example", phone="+1 555", owner_id=alice.id
    )
    assert created["name"] == "Acme Corp"
    assert created["domain"] == "acme.example"
    assert created["owner_id"] == alice.id
    assert created["version"] == 1
    assert set(created) == {
        "id", "name", "domain", "phone", "address", "owner_id", "version", "created_at", "updated_at",
    }  # fmt: skip

    fetched = await alice.get(f"{base(org)}/{created['id']}")
    assert fetched.status == 200
    assert fetched.json == created

    updated = await alice.patch(f"{base(org)}/{created['id']}", json={"address": "1 Main St", "version": 1})
    assert updated.status == 200, updated.json
    assert updated.json["address"] == "1 Main St"
    assert updated.json["name"] == "Acme Corp"
    assert updated.json["version"] == 2
    assert updated.json["updated_at"] > created["updated_at"]

    deleted = await alice.delete(f"{base(org)}/{created['id']}")
    assert deleted.status == 204
    gone = await alice.get(f"{base(org)}/{created['id']}")
    assert_error(gone, 404, "company_not_found")


async def test_each_write_leaves_its_event_in_the_outbox(app: Quart, alice: User, org: dict[str, Any]) -> None:
    company = await create(alice, org, "companies", name="Globex")
    patched = await alice.patch(f"{base(org)}/{company['id']}", json={"phone": "123"}, headers={"If-Match": '"1"'})
    assert patched.status == 200, patched.json
    assert (await alice.delete(f"{base(org)}/{company['id']}")).status == 204

    assert [e["id"] for e in await outbox(app, org["id"], "company.created")] == [company["id"]]
    [update_event] = await outbox(app, org["id"], "company.updated")
    assert update_event["phone"] == "123"
    assert update_event["version"] == 2
    assert await outbox(app, org["id"], "company.deleted") == [{"id": company["id"]}]


async def test_patch_with_stale_version_is_a_conflict_carrying_the_current_record(
    app: Quart, alice: User, org: dict[str, Any]
) -> None:
    company = await create(alice, org, "companies", name="Initech")
    first = await alice.patch(f"{base(org)}/{company['id']}", json={"name": "Initech Inc", "version": 1})
    assert first.status == 200

    stale = await alice.patch(f"{base(org)}/{company['id']}", json={"name": "Lost update", "version": 1})
    assert_error(stale, 409, "version_conflict")
    assert stale.json["error"]["current"]["name"] == "Initech Inc"
    assert stale.json["error"]["current"]["version"] == 2
    stale_header = await alice.patch(f"{base(org)}/{company['id']}", json={"name": "x"}, headers={"If-Match": "1"})
    assert_error(stale_header, 409, "version_conflict")
    assert (await alice.get(f"{base(org)}/{company['id']}")).json["name"] == "Initech Inc"
    assert len(await outbox(app, org["id"], "company.updated")) == 1


async def test_patch_without_a_version_is_refused(app: Quart, alice: User, org: dict[str, Any]) -> None:
    company = await create(alice, org, "companies", name="Umbrella")
    response = await alice.patch(f"{base(org)}/{company['id']}", json={"name": "Umbrella Corp"})
    assert_error(response, 422, "validation_error", "version")
    assert response.json["error"]["fields"]["version"].startswith("is required")
    bad_tag = await alice.patch(f"{base(org)}/{company['id']}", json={"name": "U"}, headers={"If-Match": "*"})
    assert_error(bad_tag, 422, "validation_error", "version")
    assert (await alice.get(f"{base(org)}/{company['id']}")).json["version"] == 1


async def test_owner_must_be_a_member_of_the_org(app: Quart, alice: User, bob: User, org: dict[str, Any]) -> None:
    response = await alice.post(base(org), json={"name": "Hooli", "owner_id": bob.id})
    assert_error(response, 422, "validation_error", "owner_id")
    assert await count_rows(app, "companies", org["id"]) == 0

    company = await create(alice, org, "companies", name="Hooli")
    patched = await alice.patch(f"{base(org)}/{company['id']}", json={"owner_id": bob.id, "version": 1})
    assert_error(patched, 422, "validation_error", "owner_id")

    await Api(app).add_member(alice, org, bob, "member")
    patched = await alice.patch(f"{base(org)}/{company['id']}", json={"owner_id": bob.id, "version": 1})
    assert patched.status == 200
    assert patched.json["owner_id"] == bob.id


async def test_another_orgs_company_is_not_found_on_every_route(
    app: Quart, alice: User, bob: User, org: dict[str, Any]
) -> None:
    bobs_org = await bob.create_org("Bob Co")
    bobs = await create(bob, bobs_org, "companies", name="Bob's Company")
    path = f"{base(org)}/{bobs['id']}"
    assert_error(await alice.get(path), 404, "company_not_found")
    assert_error(await alice.patch(path, json={"name": "Mine now", "version": 1}), 404, "company_not_found")
    assert_error(await alice.delete(path), 404, "company_not_found")
    # and Bob's org itself is invisible to Alice
    assert_error(await alice.get(f"{base(bobs_org)}/{bobs['id']}"), 404, "org_not_found")
    assert_error(await alice.get(base(bobs_org)), 404, "org_not_found")
    assert (await bob.get(f"{base(bobs_org)}/{bobs['id']}")).json == bobs


async def test_viewer_reads_but_cannot_write(app: Quart, alice: User, bob: User, org: dict[str, Any]) -> None:
    await Api(app).add_member(alice, org, bob, "viewer")
    company = await create(alice, org, "companies", name="Stark Industries")
    assert (await bob.get(base(org))).status == 200
    assert (await bob.get(f"{base(org)}/{company['id']}")).status == 200
    assert_error(await bob.post(base(org), json={"name": "Nope"}), 403, "read_only")
    assert_error(await bob.patch(f"{base(org)}/{company['id']}", json={"name": "N", "version": 1}), 403, "read_only")
    assert_error(await bob.delete(f"{base(org)}/{company['id']}"), 403, "read_only")
    assert await count_rows(app, "companies", org["id"]) == 1
    assert (await alice.get(f"{base(org)}/{company['id']}")).json["version"] == 1
