"""Bad input on every deals, stages, move and board route: the right 4xx, DESIGN.md's error body, nothing written."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest

from tests.deals.conftest import new_deal, table_counts
from tests.helpers import User

MALFORMED = b'{"title": "unterminated'


@pytest.fixture
async def deal(alice: User, base: str) -> dict[str, Any]:
    return await new_deal(alice, base, title="Target", amount=10)


def assert_error(response: Any, status: int, field: str | None = None) -> None:
    assert response.status == status, response.json
    error = response.json["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if field is not None:
        assert field in error.get("fields", {}), error


async def test_malformed_json_is_400_on_every_write(
    alice: User, base: str, deal: dict[str, Any], stage_ids: dict[str, int], sql: asyncpg.Connection
) -> None:
    before = await table_counts(sql)
    headers = {"Content-Type": "application/json"}
    targets = [
        ("POST", f"{base}/deals"),
        ("PATCH", f"{base}/deals/{deal['id']}"),
        ("POST", f"{base}/deals/{deal['id']}/move"),
        ("POST", f"{base}/stages"),
        ("PATCH", f"{base}/stages/{stage_ids['Lead']}"),
    ]
    for method, path in targets:
        response = await alice.request(method, path, data=MALFORMED, headers=headers)
        assert_error(response, 400)
        assert response.json["error"]["code"] == "malformed_json", path
    assert await table_counts(sql) == before


CREATE_CASES = [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": 5}, "title"),
    ({"title": "ok", "amount": "100"}, "amount"),
    ({"title": "ok", "amount": 1.5}, "amount"),
    ({"title": "ok", "amount": -1}, "amount"),
    ({"title": "ok", "amount": 10**15}, "amount"),
    ({"title": "ok", "amount": True}, "amount"),
    ({"title": "ok", "currency": "usd"}, "currency"),
    ({"title": "ok", "currency": "EURO"}, "currency"),
    ({"title": "ok", "probability": 101}, "probability"),
    ({"title": "ok", "probability": -1}, "probability"),
    ({"title": "ok", "stage_id": "1"}, "stage_id"),
    ({"title": "ok", "stage_id": 0}, "stage_id"),
    ({"title": "ok", "stage_id": 2**63}, "stage_id"),
    ({"title": "ok", "stage_id": 999999}, "stage_id"),
    ({"title": "ok", "owner_id": 999999}, "owner_id"),
    ({"title": "ok", "contact_id": 999999}, "contact_id"),
    ({"title": "ok", "expected_close_date": "next week"}, "expected_close_date"),
    ({"title": "ok", "position": "a0"}, "position"),
    ({"title": "ok", "won_at": "2030-01-01T00:00:00Z"}, "won_at"),
    ({"title": "ok", "surprise": 1}, "surprise"),
    ({"title": "nul\u0000byte"}, "title"),
    ({"title": "   "}, "title"),
]


@pytest.mark.parametrize(("body", "field"), CREATE_CASES)
async def test_create_rejects_bad_fields(
    alice: User, base: str, sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    await new_deal(alice, base)  # so the counts are not all zero
    before = await table_counts(sql)
    response = await alice.post(f"{base}/deals", json=body)
    assert_error(response, 422, field)
    assert await table_counts(sql) == before


@pytest.mark.parametrize("body", [[], "title", 42, None])
async def test_create_needs_a_json_object(alice: User, base: str, sql: asyncpg.Connection, body: Any) -> None:
    before = await table_counts(sql)
    response = await alice.post(f"{base}/deals", json=body)
    assert response.status in (400, 422), response.json
    assert "error" in response.json
    assert await table_counts(sql) == before


PATCH_CASES = [
    ({"title": None, "version": 1}, "title"),
    ({"amount": None, "version": 1}, "amount"),
    ({"stage_id": None, "version": 1}, "stage_id"),
    ({"amount": 10**15, "version": 1}, "amount"),
    ({"probability": 200, "version": 1}, "probability"),
    ({"version": "1", "title": "x"}, "version"),
    ({"version": 0, "title": "x"}, "version"),
    ({"title": "x"}, "version"),
    ({"company_id": 424242, "version": 1}, "company_id"),
    ({"stage_id": 424242, "version": 1}, "stage_id"),
    ({"id": 5, "version": 1}, "id"),
    ({"org_id": 5, "version": 1}, "org_id"),
]


@pytest.mark.parametrize(("body", "field"), PATCH_CASES)
async def test_patch_rejects_bad_fields(
    alice: User, base: str, deal: dict[str, Any], sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    before = await table_counts(sql)
    response = await alice.patch(f"{base}/deals/{deal['id']}", json=body)
    assert_error(response, 422, field)
    assert await table_counts(sql) == before
    assert (await alice.get(f"{base}/deals/{deal['id']}")).json == deal


async def test_bad_if_match_is_422(alice: User, base: str, deal: dict[str, Any], sql: asyncpg.Connection) -> None:
    before = await table_counts(sql)
    for value in ("abc", '"1", "2"', "0", "-1", "99999999999"):
        response = await alice.patch(f"{base}/deals/{deal['id']}", json={"title": "x"}, headers={"If-Match": value})
        assert_error(response, 422, "If-Match")
        assert_error(await alice.delete(f"{base}/deals/{deal['id']}", headers={"If-Match": value}), 422, "If-Match")
    assert await table_counts(sql) == before


MOVE_CASES = [
    ({"version": 1}, "stage_id"),
    ({"stage_id": "won", "version": 1}, "stage_id"),
    ({"stage_id": None, "version": 1}, "stage_id"),
    ({"stage_id": 1, "before_id": "x", "version": 1}, "before_id"),
    ({"stage_id": 1, "after_id": -3, "version": 1}, "after_id"),
    ({"stage_id": 1, "position": "a0", "version": 1}, "position"),
    ({"stage_id": 1}, "version"),
]


@pytest.mark.parametrize(("body", "field"), MOVE_CASES)
async def test_move_rejects_bad_bodies(
    alice: User, base: str, deal: dict[str, Any], sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    before = await table_counts(sql)
    response = await alice.post(f"{base}/deals/{deal['id']}/move", json=body)
    assert_error(response, 422, field)
    assert await table_counts(sql) == before


@pytest.mark.parametrize(
    "path",
    ["deals/0", "deals/-1", "deals/abc", "deals/99999999999999999999", "deals/1.5", "stages/0", "stages/x"],
)
async def test_bad_ids_in_paths_are_404(alice: User, base: str, path: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await alice.request(method, f"{base}/{path}", json={"version": 1})
        assert response.status in (404, 405), (method, path)
        assert "error" in response.json
    response = await alice.post(f"{base}/{path}/move", json={"stage_id": 1, "version": 1})
    assert response.status in (404, 405)


async def test_unknown_deal_id_is_404(alice: User, base: str, stage_ids: dict[str, int]) -> None:
    missing = 4_000_000_000
    assert (await alice.get(f"{base}/deals/{missing}")).status == 404
    assert (await alice.patch(f"{base}/deals/{missing}", json={"title": "x", "version": 1})).status == 404
    move = await alice.post(f"{base}/deals/{missing}/move", json={"stage_id": stage_ids["Won"], "version": 1})
    assert move.status == 404
    assert (await alice.delete(f"{base}/deals/{missing}")).status == 404


LIST_CASES = [
    ("limit=0", "limit"),
    ("limit=201", "limit"),
    ("limit=ten", "limit"),
    ("cursor=!!!", "cursor"),
    ("cursor=WzFd", "cursor"),  # [1]
    ("cursor=WyJ0aXRsZSIsIDEsIDJd", "cursor"),  # ["title", 1, 2]: wrong sort value type
    ("cursor=WyJhbW91bnQiLCAiYSIsIDJd", "cursor"),  # ["amount", "a", 2] for another sort
    ("sort=price", "sort"),
    ("sort=-title", "sort"),
    ("stage=abc", "stage"),
    ("owner=0", "owner"),
    ("company=1e3", "company"),
    ("contact=99999999999999999999", "contact"),
    ("updated_since=yesterday", "updated_since"),
    ("status=pending", "status"),
]


@pytest.mark.parametrize(("query", "field"), LIST_CASES)
async def test_list_rejects_bad_parameters(alice: User, base: str, query: str, field: str) -> None:
    response = await alice.get(f"{base}/deals?{query}")
    assert_error(response, 422, field)


async def test_amount_that_would_overflow_the_totals_is_422(
    alice: User, base: str, sql: asyncpg.Connection, stage_ids: dict[str, int]
) -> None:
    # the column total is a bigint: fill it close to its limit, then one more maximal deal cannot fit
    big = await new_deal(alice, base, amount=10**15 - 1)
    await sql.execute("UPDATE deal_stage_totals SET value = 9223372036854775000 WHERE stage_id = $1", big["stage_id"])
    before = await table_counts(sql)
    response = await alice.post(f"{base}/deals", json={"title": "Too much", "amount": 10**15 - 1})
    assert_error(response, 422, "amount")
    other = await new_deal(alice, base, stage_id=stage_ids["Qualified"], amount=10**15 - 1)
    before = await table_counts(sql)
    moved = await alice.post(
        f"{base}/deals/{other['id']}/move", json={"stage_id": big["stage_id"], "version": other["version"]}
    )
    assert_error(moved, 422, "amount")
    assert await table_counts(sql) == before


async def test_nul_in_a_cursor_is_422(alice: User, base: str) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(["title", "a\u0000", 1]).encode()).decode().rstrip("=")
    assert_error(await alice.get(f"{base}/deals?sort=title&cursor={cursor}"), 422, "cursor")


async def test_stage_bad_input(alice: User, base: str, stage_ids: dict[str, int], sql: asyncpg.Connection) -> None:
    before = await table_counts(sql)
    bad_creates = [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Ok", "kind": "closed"}, "kind"),
        ({"name": "Ok", "position": -1}, "position"),
        ({"name": "Ok", "position": "1"}, "position"),
        ({"name": "Ok", "color": "red"}, "color"),
        ({"name": "Nul\u0000"}, "name"),
    ]
    for body, field in bad_creates:
        assert_error(await alice.post(f"{base}/stages", json=body), 422, field)
    bad_patches = [({"name": None}, "name"), ({"kind": "maybe"}, "kind"), ({"version": "2"}, "version")]
    for body, field in bad_patches:
        assert_error(await alice.patch(f"{base}/stages/{stage_ids['Lead']}", json=body), 422, field)
    assert await table_counts(sql) == before
