from __future__ import annotations

from typing import Any

from quart import Quart

from tests.companies.support import assert_error, count_rows, create, outbox
from tests.helpers import Api, User

WIRE = {
    "id", "first_name", "last_name", "email", "phone", "title", "company_id", "owner_id",
    "version", "created_at", "updated_at",
}  # fmt: skip


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/contacts"


async def test_member_creates_reads_updates_and_deletes_a_contact(app: Quart, alice: User, org: dict[str, Any]) -> None:
    company = await create(alice, org, "companies", name="Acme")
    created = await create(
        alice,
        org,
        "contacts",
        first_name="Grace",
        last_name="Hopper",
        email="grace@example.com",
        title="Rear Admiral",
        company_id=company["id"],
        owner_id=alice.id,
    )
    assert set(created) == WIRE
    assert created["company_id"] == company["id"]
    assert created["version"] == 1
    assert (await alice.get(f"{base(org)}/{created['id']}")).json == created

    updated = await alice.patch(
        f"{base(org)}/{created['id']}", json={"title": None, "company_id": None}, headers={"If-Match": 'W/"1"'}
    )
    assert updated.status == 200, updated.json
    assert updated.json["title"] is None
    assert updated.json["company_id"] is None
    assert updated.json["first_name"] == "Grace"
    assert updated.json["version"] == 2
    assert updated.json["updated_at"] > created["updated_at"]

    assert (await alice.delete(f"{base(org)}/{created['id']}")).status == 204
    assert_error(await alice.get(f"{base(org)}/{created['id']}"), 404, "contact_not_found")


async def test_one_name_is_enough_but_none_is_refused(app: Quart, alice: User, org: dict[str, Any]) -> None:
    only_last = await create(alice, org, "contacts", last_name="Lovelace")
    assert only_last["first_name"] == ""
    assert (await create(alice, org, "contacts", first_name="Cher"))["last_name"] == ""

    nameless = await alice.post(base(org), json={"email": "who@example.com"})
    assert_error(nameless, 422, "validation_error", "first_name", "last_name")
    blank = await alice.post(base(org), json={"first_name": "  ", "last_name": None})
    assert_error(blank, 422, "validation_error", "first_name")
    removing = await alice.patch(f"{base(org)}/{only_last['id']}", json={"last_name": "", "version": 1})
    assert_error(removing, 422, "validation_error", "last_name")
    assert await count_rows(app, "contacts", org["id"]) == 2
    assert (await alice.get(f"{base(org)}/{only_last['id']}")).json == only_last


async def test_each_write_leaves_its_event_in_the_outbox(app: Quart, alice: User, org: dict[str, Any]) -> None:
    contact = await create(alice, org, "contacts", first_name="Ada")
    patched = await alice.patch(f"{base(org)}/{contact['id']}", json={"last_name": "Lovelace", "version": 1})
    assert (await alice.delete(f"{base(org)}/{contact['id']}")).status == 204

    [created_event] = await outbox(app, org["id"], "contact.created")
    assert set(created_event) == WIRE
    assert created_event["id"] == contact["id"]
    [update_event] = await outbox(app, org["id"], "contact.updated")
    assert update_event["last_name"] == "Lovelace"
    assert update_event["version"] == patched.json["version"] == 2
    assert await outbox(app, org["id"], "contact.deleted") == [{"id": contact["id"]}]


async def test_patch_with_stale_version_is_a_conflict_carrying_the_current_record(
    app: Quart, alice: User, org: dict[str, Any]
) -> None:
    contact = await create(alice, org, "contacts", first_name="Alan")
    assert (await alice.patch(f"{base(org)}/{contact['id']}", json={"last_name": "Turing", "version": 1})).status == 200
    stale = await alice.patch(f"{base(org)}/{contact['id']}", json={"last_name": "Other", "version": 1})
    assert_error(stale, 409, "version_conflict")
    assert stale.json["error"]["current"]["last_name"] == "Turing"
    assert stale.json["error"]["current"]["version"] == 2
    missing = await alice.patch(f"{base(org)}/{contact['id']}", json={"last_name": "Other"})
    assert_error(missing, 422, "validation_error", "version")
    assert (await alice.get(f"{base(org)}/{contact['id']}")).json["last_name"] == "Turing"


async def test_company_and_owner_must_belong_to_the_org(
    app: Quart, alice: User, bob: User, org: dict[str, Any]
) -> None:
    bobs_org = await bob.create_org("Bob Co")
    bobs_company = await create(bob, bobs_org, "companies", name="Bob's")
    refused = await alice.post(
        base(org), json={"first_name": "Mallory", "company_id": bobs_company["id"], "owner_id": bob.id}
    )
    assert_error(refused, 422, "validation_error", "company_id", "owner_id")
    assert await count_rows(app, "contacts", org["id"]) == 0

    contact = await create(alice, org, "contacts", first_name="Mallory")
    moved = await alice.patch(f"{base(org)}/{contact['id']}", json={"company_id": bobs_company["id"], "version": 1})
    assert_error(moved, 422, "validation_error", "company_id")
    unknown = await alice.patch(f"{base(org)}/{contact['id']}", json={"company_id": 10**12, "version": 1})
    assert_error(unknown, 422, "validation_error", "company_id")
    assert (await alice.get(f"{base(org)}/{contact['id']}")).json == contact


async def test_another_orgs_contact_is_not_found_on_every_route(
    app: Quart, alice: User, bob: User, org: dict[str, Any]
) -> None:
    bobs_org = await bob.create_org("Bob Co")
    bobs = await create(bob, bobs_org, "contacts", first_name="Bobby")
    path = f"{base(org)}/{bobs['id']}"
    assert_error(await alice.get(path), 404, "contact_not_found")
    assert_error(await alice.patch(path, json={"first_name": "Mine", "version": 1}), 404, "contact_not_found")
    assert_error(await alice.delete(path), 404, "contact_not_found")
    assert_error(await alice.get(base(bobs_org)), 404, "org_not_found")
    assert_error(await alice.post(base(bobs_org), json={"first_name": "x"}), 404, "org_not_found")
    assert_error(await alice.get(f"{base(bobs_org)}/{bobs['id']}"), 404, "org_not_found")
    assert (await bob.get(f"{base(bobs_org)}/{bobs['id']}")).json == bobs
    assert await count_rows(app, "contacts", bobs_org["id"]) == 1


async def test_viewer_reads_but_cannot_write(app: Quart, alice: User, bob: User, org: dict[str, Any]) -> None:
    await Api(app).add_member(alice, org, bob, "viewer")
    contact = await create(alice, org, "contacts", first_name="Vi")
    assert (await bob.get(base(org))).json["items"] == [contact]
    assert (await bob.get(f"{base(org)}/{contact['id']}")).status == 200
    assert_error(await bob.post(base(org), json={"first_name": "No"}), 403, "read_only")
    assert_error(await bob.patch(f"{base(org)}/{contact['id']}", json={"title": "x", "version": 1}), 403, "read_only")
    assert_error(await bob.delete(f"{base(org)}/{contact['id']}"), 403, "read_only")
    assert await count_rows(app, "contacts", org["id"]) == 1
    assert (await alice.get(f"{base(org)}/{contact['id']}")).json == contact
