"""Activities: log and schedule work on deals, contacts and companies; lists, versions, roles, tenancy."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.deals.conftest import new_company, new_contact, new_deal, table_counts
from tests.helpers import User

FIELDS = {
    "id",
    "type",
    "subject",
    "body",
    "due_at",
    "done",
    "deal_id",
    "contact_id",
    "company_id",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
}


async def new_activity(user: User, base: str, **fields: Any) -> dict[str, Any]:
    response = await user.post(f"{base}/activities", json={"type": "task", "subject": "Follow up", **fields})
    assert response.status == 201, response.json
    return dict(response.json)


async def test_create_defaults_and_links(alice: User, base: str, org: dict[str, Any], sql: asyncpg.Connection) -> None:
    deal = await new_deal(alice, base)
    company = await new_company(sql, org["id"])
    contact = await new_contact(sql, org["id"])
    activity = await new_activity(
        alice,
        base,
        type="call",
        subject="Discovery call",
        body="Ask about budget",
        due_at="2031-01-02T09:30:00+01:00",
        deal_id=deal["id"],
        company_id=company,
        contact_id=contact,
    )
    assert set(activity) >= FIELDS
    assert activity["owner_id"] == alice.id
    assert activity["done"] is False and activity["done_at"] is None
    assert activity["due_at"] == "2031-01-02T08:30:00Z"
    assert (activity["deal_id"], activity["company_id"], activity["contact_id"]) == (deal["id"], company, contact)
    fetched = await alice.get(f"{base}/activities/{activity['id']}")
    assert fetched.status == 200 and fetched.json == activity


async def test_marking_done_stamps_done_at_and_undo_clears_it(alice: User, base: str) -> None:
    activity = await new_activity(alice, base)
    done = await alice.patch(f"{base}/activities/{activity['id']}", json={"done": True, "version": 1})
    assert done.status == 200, done.json
    assert done.json["done"] is True and done.json["done_at"] == done.json["updated_at"]
    undone = await alice.patch(f"{base}/activities/{activity['id']}", json={"done": False}, headers={"If-Match": '"2"'})
    assert undone.status == 200
    assert undone.json["done"] is False and undone.json["done_at"] is None and undone.json["version"] == 3


async def test_stale_version_is_409_with_current(alice: User, base: str, sql: asyncpg.Connection) -> None:
    activity = await new_activity(alice, base)
    first = await alice.patch(f"{base}/activities/{activity['id']}", json={"subject": "One", "version": 1})
    before = await table_counts(sql)
    stale = await alice.patch(f"{base}/activities/{activity['id']}", json={"subject": "Two", "version": 1})
    assert stale.status == 409
    assert stale.json["error"]["code"] == "version_conflict"
    assert stale.json["error"]["current"] == first.json
    assert await table_counts(sql) == before


async def test_delete(alice: User, base: str) -> None:
    activity = await new_activity(alice, base)
    assert (await alice.delete(f"{base}/activities/{activity['id']}")).status == 204
    assert (await alice.get(f"{base}/activities/{activity['id']}")).status == 404
    again = await alice.delete(f"{base}/activities/{activity['id']}")
    assert again.status == 404 and again.json["error"]["code"] == "activity_not_found"


async def test_list_filters(alice: User, member: User, base: str, org: dict[str, Any], sql: asyncpg.Connection) -> None:
    deal = await new_deal(alice, base)
    company = await new_company(sql, org["id"])
    contact = await new_contact(sql, org["id"])
    on_deal = await new_activity(alice, base, type="call", deal_id=deal["id"], due_at="2030-01-01T10:00:00Z")
    on_company = await new_activity(alice, base, type="email", company_id=company, due_at="2030-02-01T10:00:00Z")
    on_contact = await new_activity(member, base, type="meeting", contact_id=contact, due_at="2030-03-01T10:00:00Z")
    undated_done = await new_activity(alice, base, type="note", done=True)

    async def ids(query: str) -> list[int]:
        response = await alice.get(f"{base}/activities?{query}")
        assert response.status == 200, response.json
        return [a["id"] for a in response.json["items"]]

    assert await ids(f"deal={deal['id']}") == [on_deal["id"]]
    assert await ids(f"company={company}") == [on_company["id"]]
    assert await ids(f"contact={contact}") == [on_contact["id"]]
    assert await ids(f"owner={member.id}") == [on_contact["id"]]
    assert await ids("owner=me") == [on_deal["id"], on_company["id"], undated_done["id"]]
    assert await ids("done=true") == [undated_done["id"]]
    assert await ids("done=false") == [on_deal["id"], on_company["id"], on_contact["id"]]
    assert await ids("type=email") == [on_company["id"]]
    assert await ids("due_before=2030-02-01T10:00:00Z") == [on_deal["id"]]
    assert await ids("due_after=2030-02-01T10:00:00Z") == [on_company["id"], on_contact["id"]]
    assert await ids("sort=-due_at") == [undated_done["id"], on_contact["id"], on_company["id"], on_deal["id"]]
    assert await ids("q=follow") == [on_deal["id"], on_company["id"], on_contact["id"], undated_done["id"]]
    assert await ids("q=nothing+like+it") == []
    assert await ids("sort=created_at") == [on_deal["id"], on_company["id"], on_contact["id"], undated_done["id"]]


@pytest.mark.parametrize("sort", ["due_at", "-due_at", "created_at", "-created_at"])
async def test_keyset_pages_cover_everything_once(alice: User, base: str, sort: str) -> None:
    made = [
        await new_activity(
            alice, base, subject=f"A{i}", due_at=None if i % 3 == 0 else f"2030-01-0{1 + i % 4}T00:00:00Z"
        )
        for i in range(7)
    ]
    seen: list[int] = []
    cursor = None
    while True:
        query = f"sort={sort}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = await alice.get(f"{base}/activities?{query}")
        assert response.status == 200, response.json
        seen.extend(a["id"] for a in response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(a["id"] for a in made)
    assert len(seen) == len(set(seen))


async def test_references_outside_the_org_are_422(
    alice: User, bob: User, base: str, other_org: dict[str, Any], sql: asyncpg.Connection
) -> None:
    bobs_deal = await new_deal(bob, f"/api/v1/orgs/{other_org['slug']}")
    bobs_company = await new_company(sql, other_org["id"], "Bob's Co")
    before = await table_counts(sql)
    for extra, field in (
        ({"deal_id": bobs_deal["id"]}, "deal_id"),
        ({"company_id": bobs_company}, "company_id"),
        ({"owner_id": bob.id}, "owner_id"),
        ({"contact_id": 123456789}, "contact_id"),
    ):
        response = await alice.post(f"{base}/activities", json={"type": "note", "subject": "x", **extra})
        assert response.status == 422, (extra, response.json)
        assert field in response.json["error"]["fields"]
    assert await table_counts(sql) == before


async def test_viewer_reads_only_and_other_orgs_ids_are_404(
    alice: User, bob: User, viewer: User, base: str, other_org: dict[str, Any], sql: asyncpg.Connection
) -> None:
    mine = await new_activity(alice, base)
    bobs = await new_activity(bob, f"/api/v1/orgs/{other_org['slug']}", subject="Bob's secret")
    before = await table_counts(sql)
    assert (await viewer.get(f"{base}/activities/{mine['id']}")).status == 200
    for response in (
        await viewer.post(f"{base}/activities", json={"type": "note", "subject": "x"}),
        await viewer.patch(f"{base}/activities/{mine['id']}", json={"subject": "x", "version": 1}),
        await viewer.delete(f"{base}/activities/{mine['id']}"),
    ):
        assert response.status == 403
    path = f"{base}/activities/{bobs['id']}"
    for response in (
        await alice.get(path),
        await alice.patch(path, json={"subject": "Mine", "version": 1}),
        await alice.delete(path),
    ):
        assert response.status == 404
        assert response.json["error"]["code"] == "activity_not_found"
        assert "secret" not in str(response.json)
    assert (await alice.get(f"/api/v1/orgs/{other_org['slug']}/activities")).status == 404
    assert await table_counts(sql) == before
