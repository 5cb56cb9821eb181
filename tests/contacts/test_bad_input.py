"""Every class of bad input on every contact route: the right 4xx, DESIGN.md's error body, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from tests.companies.support import MALFORMED, assert_error, count_rows, create
from tests.helpers import User


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/contacts"


@pytest.fixture
async def contact(alice: User, org: dict[str, Any]) -> dict[str, Any]:
    return await create(alice, org, "contacts", first_name="Existing", last_name="Person")


async def assert_nothing_written(app: Quart, org: dict[str, Any], contact: dict[str, Any], alice: User) -> None:
    assert await count_rows(app, "contacts", org["id"]) == 1
    assert await count_rows(app, "events", org["id"]) == 1  # only contact.created
    assert (await alice.get(f"{base(org)}/{contact['id']}")).json == contact


BAD_BODIES = [
    ({"first_name": 42}, "first_name"),
    ({"first_name": "Ok", "last_name": {"a": 1}}, "last_name"),
    ({"first_name": "Ok", "email": "not-an-email"}, "email"),
    ({"first_name": "Ok", "email": 7}, "email"),
    ({"first_name": "Ok", "company_id": "12"}, "company_id"),
    ({"first_name": "Ok", "company_id": 0}, "company_id"),
    ({"first_name": "Ok", "owner_id": 1.0}, "owner_id"),
    ({"first_name": "x" * 101}, "first_name"),
    ({"first_name": "Ok", "last_name": "x" * 101}, "last_name"),
    ({"first_name": "Ok", "email": "a" * 250 + "@example.com"}, "email"),
    ({"first_name": "Ok", "phone": "1" * 51}, "phone"),
    ({"first_name": "Ok", "title": "t" * 201}, "title"),
    ({"first_name": "Ok", "nickname": "K"}, "nickname"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_create_rejects_bad_fields(
    app: Quart, alice: User, org: dict[str, Any], contact: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    assert_error(await alice.post(base(org), json=body), 422, "validation_error", field)
    await assert_nothing_written(app, org, contact, alice)


@pytest.mark.parametrize(("body", "field"), [(dict(b, version=1), f) for b, f in BAD_BODIES])
async def test_patch_rejects_bad_fields(
    app: Quart, alice: User, org: dict[str, Any], contact: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await alice.patch(f"{base(org)}/{contact['id']}", json=body)
    assert_error(response, 422, "validation_error", field)
    await assert_nothing_written(app, org, contact, alice)


async def test_malformed_missing_and_oversize_bodies_are_refused(
    app: Quart, alice: User, org: dict[str, Any], contact: dict[str, Any]
) -> None:
    assert_error(await alice.post(base(org), **MALFORMED), 400, "malformed_json")
    assert_error(await alice.patch(f"{base(org)}/{contact['id']}", **MALFORMED), 400, "malformed_json")
    assert_error(await alice.post(base(org), json={}), 422, "validation_error", "first_name")
    assert (await alice.post(base(org), json=[1, 2])).status == 422
    big = await alice.post(base(org), json={"first_name": "x" * 2_000_000})
    assert_error(big, 413, "payload_too_large")
    no_version = await alice.patch(f"{base(org)}/{contact['id']}", json={"title": "CEO"})
    assert_error(no_version, 422, "validation_error", "version")
    await assert_nothing_written(app, org, contact, alice)


async def test_unknown_ids_are_not_found(app: Quart, alice: User, org: dict[str, Any], contact: dict[str, Any]) -> None:
    path = f"{base(org)}/{contact['id'] + 1000}"
    assert_error(await alice.get(path), 404, "contact_not_found")
    assert_error(await alice.patch(path, json={"title": "x", "version": 1}), 404, "contact_not_found")
    assert_error(await alice.delete(path), 404, "contact_not_found")
    for bad_id in ("abc", "0", "1.5", "99999999999999999999"):
        assert (await alice.get(f"{base(org)}/{bad_id}")).status == 404
        assert (await alice.patch(f"{base(org)}/{bad_id}", json={"version": 1})).status == 404
    await assert_nothing_written(app, org, contact, alice)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "WyJuYW1lIiwiYSIsMV0"}, "cursor"),  # ["name","a",1]: a company cursor, one key short
        ({"sort": "email"}, "sort"),
        ({"sort": "-"}, "sort"),
        ({"updated_since": "2026-02-30T00:00:00"}, "updated_since"),
        ({"updated_since": "soon"}, "updated_since"),
        ({"company": "acme"}, "company"),
        ({"company": "-4"}, "company"),
        ({"owner": "1e3"}, "owner"),
    ],
)
async def test_list_rejects_bad_parameters(
    alice: User, org: dict[str, Any], contact: dict[str, Any], query: dict[str, str], field: str
) -> None:
    assert_error(await alice.get(base(org), query_string=query), 422, "validation_error", field)
