"""Every class of bad input on every company route: the right 4xx, DESIGN.md's error body, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from tests.companies.support import MALFORMED, assert_error, count_rows, create
from tests.helpers import User


def base(org: dict[str, Any]) -> str:
    return f"/api/v1/orgs/{org['slug']}/companies"


@pytest.fixture
async def company(alice: User, org: dict[str, Any]) -> dict[str, Any]:
    return await create(alice, org, "companies", name="Existing Co")


async def assert_nothing_written(app: Quart, org: dict[str, Any], company: dict[str, Any], alice: User) -> None:
    assert await count_rows(app, "companies", org["id"]) == 1
    assert await count_rows(app, "events", org["id"]) == 1  # only company.created
    assert (await alice.get(f"{base(org)}/{company['id']}")).json == company


BAD_BODIES = [
    ({"name": 123}, "name"),
    ({"name": ["x"]}, "name"),
    ({"name": "ok", "owner_id": "1"}, "owner_id"),
    ({"name": "ok", "owner_id": 1.5}, "owner_id"),
    ({"name": "ok", "owner_id": True}, "owner_id"),
    ({"name": "ok", "owner_id": -3}, "owner_id"),
    ({"name": "ok", "owner_id": 2**63}, "owner_id"),
    ({"name": "x" * 201}, "name"),
    ({"name": "ok", "domain": "d" * 254}, "domain"),
    ({"name": "ok", "phone": "1" * 51}, "phone"),
    ({"name": "ok", "address": "a" * 1001}, "address"),
    ({"name": "ok", "color": "red"}, "color"),
    ({"name": "   "}, "name"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_create_rejects_bad_fields(
    app: Quart, alice: User, org: dict[str, Any], company: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await alice.post(base(org), json=body)
    assert_error(response, 422, "validation_error", field)
    await assert_nothing_written(app, org, company, alice)


async def test_create_rejects_missing_name_malformed_json_and_non_objects(
    app: Quart, alice: User, org: dict[str, Any], company: dict[str, Any]
) -> None:
    assert_error(await alice.post(base(org), json={"domain": "x.example"}), 422, "validation_error", "name")
    assert_error(await alice.post(base(org), **MALFORMED), 400, "malformed_json")
    assert (await alice.post(base(org), json=["name"])).status == 422
    assert (await alice.post(base(org), json="name")).status == 422
    too_big = await alice.post(base(org), json={"name": "ok", "address": "a" * 2_000_000})
    assert_error(too_big, 413, "payload_too_large")
    await assert_nothing_written(app, org, company, alice)


@pytest.mark.parametrize(("body", "field"), [(dict(b, version=1), f) for b, f in BAD_BODIES])
async def test_patch_rejects_bad_fields(
    app: Quart, alice: User, org: dict[str, Any], company: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await alice.patch(f"{base(org)}/{company['id']}", json=body)
    assert_error(response, 422, "validation_error", field)
    await assert_nothing_written(app, org, company, alice)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None, "version": 1}, "name"),
        ({"name": "", "version": 1}, "name"),
        ({"name": "ok", "version": "1"}, "version"),
        ({"name": "ok", "version": 0}, "version"),
        ({"name": "ok", "id": 5, "version": 1}, "id"),
    ],
)
async def test_patch_rejects_null_name_and_bad_versions(
    app: Quart, alice: User, org: dict[str, Any], company: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await alice.patch(f"{base(org)}/{company['id']}", json=body)
    assert_error(response, 422, "validation_error", field)
    await assert_nothing_written(app, org, company, alice)


async def test_patch_rejects_malformed_json_and_unknown_ids(
    app: Quart, alice: User, org: dict[str, Any], company: dict[str, Any]
) -> None:
    assert_error(await alice.patch(f"{base(org)}/{company['id']}", **MALFORMED), 400, "malformed_json")
    missing = await alice.patch(f"{base(org)}/{company['id'] + 1000}", json={"name": "x", "version": 1})
    assert_error(missing, 404, "company_not_found")
    assert_error(await alice.delete(f"{base(org)}/{company['id'] + 1000}"), 404, "company_not_found")
    assert_error(await alice.get(f"{base(org)}/{company['id'] + 1000}"), 404, "company_not_found")
    for bad_id in ("abc", "0", "-1", "99999999999999999999"):
        assert (await alice.get(f"{base(org)}/{bad_id}")).status == 404
        assert (await alice.delete(f"{base(org)}/{bad_id}")).status == 404
    await assert_nothing_written(app, org, company, alice)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"cursor": "not-a-cursor!"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),  # [1,2]: valid base64 JSON, not a cursor of ours
        ({"cursor": "x" * 3000}, "cursor"),
        ({"sort": "owner"}, "sort"),
        ({"sort": "name; DROP TABLE companies"}, "sort"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "2026-13-01"}, "updated_since"),
        ({"owner": "me"}, "owner"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_list_rejects_bad_parameters(
    alice: User, org: dict[str, Any], company: dict[str, Any], query: dict[str, str], field: str
) -> None:
    assert_error(await alice.get(base(org), query_string=query), 422, "validation_error", field)


async def test_a_cursor_only_works_with_its_own_sort(alice: User, org: dict[str, Any]) -> None:
    for name in ("a", "b", "c"):
        await create(alice, org, "companies", name=name)
    first = await alice.get(base(org), query_string={"limit": 1, "sort": "created_at"})
    cursor = first.json["next_cursor"]
    assert cursor
    same = await alice.get(base(org), query_string={"limit": 1, "sort": "created_at", "cursor": cursor})
    assert same.status == 200
    other = await alice.get(base(org), query_string={"limit": 1, "sort": "name", "cursor": cursor})
    assert_error(other, 422, "validation_error", "cursor")
