"""The deletion rule for contacts: deals block it; activities go with the contact."""

from __future__ import annotations

from typing import Any

from quart import Quart

from tests.companies.support import assert_error, count_rows, create, insert_activity, insert_deal, outbox
from tests.helpers import User


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/contacts"


async def test_contact_with_a_deal_cannot_be_deleted(app: Quart, alice: User, org: dict[str, Any]) -> None:
    contact = await create(alice, org, "contacts", first_name="Dee", last_name="Al")
    await insert_deal(app, org["id"], contact_id=contact["id"])
    events_before = await count_rows(app, "events", org["id"])

    response = await alice.delete(f"{base(org)}/{contact['id']}")
    assert_error(response, 409, "has_deals")
    assert "1 deal." in response.json["error"]["message"]
    assert (await alice.get(f"{base(org)}/{contact['id']}")).json == contact
    assert await count_rows(app, "events", org["id"]) == events_before


async def test_deleting_a_contact_deletes_its_activities(app: Quart, alice: User, org: dict[str, Any]) -> None:
    contact = await create(alice, org, "contacts", first_name="Eve")
    keeper = await create(alice, org, "contacts", first_name="Kim")
    first = await insert_activity(app, org["id"], contact_id=contact["id"])
    second = await insert_activity(app, org["id"], contact_id=contact["id"])
    await insert_activity(app, org["id"], contact_id=keeper["id"])

    assert (await alice.delete(f"{base(org)}/{contact['id']}")).status == 204

    assert_error(await alice.get(f"{base(org)}/{contact['id']}"), 404, "contact_not_found")
    assert await count_rows(app, "activities", org["id"]) == 1
    assert sorted(e["id"] for e in await outbox(app, org["id"], "activity.deleted")) == [first, second]
    assert await outbox(app, org["id"], "contact.deleted") == [{"id": contact["id"]}]
    assert await count_rows(app, "contacts", org["id"]) == 1
