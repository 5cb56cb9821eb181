"""Bad input on every activities route: the right 4xx, DESIGN.md's error body, nothing written."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.deals.conftest import table_counts
from tests.helpers import User


@pytest.fixture
async def activity(alice: User, base: str) -> dict[str, Any]:
    response = await alice.post(f"{base}/activities", json={"type": "task", "subject": "Call back"})
    assert response.status == 201
    return dict(response.json)


async def test_malformed_json_is_400(alice: User, base: str, activity: dict[str, Any], sql: asyncpg.Connection) -> None:
    before = await table_counts(sql)
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", f"{base}/activities"), ("PATCH", f"{base}/activities/{activity['id']}")):
        response = await alice.request(method, path, data=b"{nope", headers=headers)
        assert response.status == 400
        assert response.json["error"]["code"] == "malformed_json"
    assert await table_counts(sql) == before


CREATE_CASES = [
    ({"subject": "x"}, "type"),
    ({"type": "fax", "subject": "x"}, "type"),
    ({"type": "call"}, "subject"),
    ({"type": "call", "subject": ""}, "subject"),
    ({"type": "call", "subject": "x" * 201}, "subject"),
    ({"type": "call", "subject": 7}, "subject"),
    ({"type": "call", "subject": "x", "done": "yes"}, "done"),
    ({"type": "call", "subject": "x", "done": 1}, "done"),
    ({"type": "call", "subject": "x", "due_at": "tomorrow"}, "due_at"),
    ({"type": "call", "subject": "x", "due_at": "2030-01-01T10:00:00"}, "due_at"),
    ({"type": "call", "subject": "x", "deal_id": "3"}, "deal_id"),
    ({"type": "call", "subject": "x", "deal_id": 0}, "deal_id"),
    ({"type": "call", "subject": "x", "deal_id": 2**63}, "deal_id"),
    ({"type": "call", "subject": "x", "body": "x" * 20_001}, "body"),
    ({"type": "call", "subject": "x", "done_at": "2030-01-01T10:00:00Z"}, "done_at"),
    ({"type": "call", "subject": "x", "org_id": 1}, "org_id"),
    ({"type": "call", "subject": "x", "body": "nul\u0000"}, "body"),
    ({"type": "call", "subject": "\u0000"}, "subject"),
]


@pytest.mark.parametrize(("body", "field"), CREATE_CASES)
async def test_create_rejects_bad_fields(
    alice: User, base: str, activity: dict[str, Any], sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    before = await table_counts(sql)
    response = await alice.post(f"{base}/activities", json=body)
    assert response.status == 422, response.json
    assert field in response.json["error"]["fields"]
    assert await table_counts(sql) == before


PATCH_CASES = [
    ({"subject": "x"}, "version"),
    ({"subject": None, "version": 1}, "subject"),
    ({"done": None, "version": 1}, "done"),
    ({"type": "visit", "version": 1}, "type"),
    ({"version": "1", "subject": "x"}, "version"),
    ({"deal_id": 5555, "version": 1}, "deal_id"),
    ({"id": 1, "version": 1}, "id"),
]


@pytest.mark.parametrize(("body", "field"), PATCH_CASES)
async def test_patch_rejects_bad_fields(
    alice: User, base: str, activity: dict[str, Any], sql: asyncpg.Connection, body: dict[str, Any], field: str
) -> None:
    before = await table_counts(sql)
    response = await alice.patch(f"{base}/activities/{activity['id']}", json=body)
    assert response.status == 422, response.json
    assert field in response.json["error"]["fields"]
    assert await table_counts(sql) == before
    assert (await alice.get(f"{base}/activities/{activity['id']}")).json == activity


LIST_CASES = [
    ("limit=0", "limit"),
    ("limit=500", "limit"),
    ("cursor=%%%", "cursor"),
    ("cursor=WyJkdWVfYXQiLCAieCIsIDFd", "cursor"),  # ["due_at", "x", 1]
    ("cursor=WyJjcmVhdGVkX2F0IiwgIjIwMzAtMDEtMDFUMDA6MDA6MDBaIiwgMV0", "cursor"),  # another sort's cursor
    ("sort=subject", "sort"),
    ("deal=x", "deal"),
    ("owner=-2", "owner"),
    ("done=maybe", "done"),
    ("type=fax", "type"),
    ("due_before=soon", "due_before"),
    ("due_after=2030-13-45", "due_after"),
]


@pytest.mark.parametrize(("query", "field"), LIST_CASES)
async def test_list_rejects_bad_parameters(alice: User, base: str, query: str, field: str) -> None:
    response = await alice.get(f"{base}/activities?{query}")
    assert response.status == 422, (query, response.json)
    assert field in response.json["error"]["fields"]


@pytest.mark.parametrize("path", ["activities/0", "activities/abc", "activities/99999999999999999999"])
async def test_bad_ids_in_paths_are_404(alice: User, base: str, path: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await alice.request(method, f"{base}/{path}", json={"version": 1})
        assert response.status in (404, 405), (method, path)
        assert "error" in response.json
