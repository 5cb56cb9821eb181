"""The deletion rule: deals block it; contacts are detached; activities go with the company."""

from __future__ import annotations

from typing import Any

from quart import Quart

from tests.companies.support import assert_error, count_rows, create, insert_activity, insert_deal, outbox
from tests.helpers import User


def base(org: dict[str, Any], kind: str = "companies") -> str:
    return f"/api/v1/orgs/{org['slug']}/{kind}"


async def test_company_with_deals_cannot_be_deleted(app: Quart, alice: User, org: dict[str, Any]) -> None:
    company = await create(alice, org, "companies", name="Dealmaker")
    await insert_deal(app, org["id"], company_id=company["id"])
    await insert_deal(app, org["id"], company_id=company["id"])
    events_before = await count_rows(app, "events", org["id"])

    response = await alice.delete(f"{base(org)}/{company['id']}")
    assert_error(response, 409, "has_deals")
    assert "2 deals" in response.json["error"]["message"]
    assert response.json["error"]["deals"] == 2
    assert (await alice.get(f"{base(org)}/{company['id']}")).status == 200
    assert await count_rows(app, "deals", org["id"]) == 2
    assert await count_rows(app, "events", org["id"]) == events_before


async def test_deleting_a_company_detaches_its_contacts_and_deletes_its_activities(
    app: Quart, alice: User, org: dict[str, Any]
) -> None:
    company = await create(alice, org, "companies", name="Shortlived")
    other = await create(alice, org, "companies", name="Stays")
    ann = await create(alice, org, "contacts", first_name="Ann", company_id=company["id"])
    ben = await create(alice, org, "contacts", first_name="Ben", company_id=company["id"])
    cy = await create(alice, org, "contacts", first_name="Cy", company_id=other["id"])
    doomed = await insert_activity(app, org["id"], company_id=company["id"])
    await insert_activity(app, org["id"], company_id=other["id"])
    await insert_activity(app, org["id"], contact_id=ann["id"])

    assert (await alice.delete(f"{base(org)}/{company['id']}")).status == 204

    assert_error(await alice.get(f"{base(org)}/{company['id']}"), 404, "company_not_found")
    for before in (ann, ben):
        after = (await alice.get(f"{base(org, 'contacts')}/{before['id']}")).json
        assert after["company_id"] is None
        assert after["version"] == before["version"] + 1
        assert after["updated_at"] > before["updated_at"]
    assert (await alice.get(f"{base(org, 'contacts')}/{cy['id']}")).json == cy
    assert await count_rows(app, "activities", org["id"]) == 2

    updates = await outbox(app, org["id"], "contact.updated")
    assert sorted(e["id"] for e in updates) == sorted([ann["id"], ben["id"]])
    assert all(e["company_id"] is None for e in updates)
    assert await outbox(app, org["id"], "activity.deleted") == [{"id": doomed}]
    assert await outbox(app, org["id"], "company.deleted") == [{"id": company["id"]}]
    assert await count_rows(app, "companies", org["id"]) == 1
