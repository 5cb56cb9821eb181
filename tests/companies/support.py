"""Helpers for the record tests (companies and contacts): rows and outbox straight from PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from quart import Quart

from tests.helpers import User

MALFORMED = {"data": b"{bad", "headers": {"Content-Type": "application/json"}}


def db_of(app: Quart) -> Any:
    return app.extensions["db"]


async def count_rows(app: Quart, table: str, org_id: int) -> int:
    assert table in {"companies", "contacts", "activities", "deals", "events"}
    return int(await db_of(app).fetch_val(f"SELECT count(*) FROM {table} WHERE org_id = :org", {"org": org_id}))


async def outbox(app: Quart, org_id: int, type: str) -> list[dict[str, Any]]:
    """The data of each outbox event of this type, oldest first."""
    rows = await db_of(app).fetch_all(
        "SELECT data FROM events WHERE org_id = :org AND type = :type ORDER BY seq", {"org": org_id, "type": type}
    )
    return [json.loads(r._mapping["data"]) if isinstance(r._mapping["data"], str) else r._mapping["data"] for r in rows]


async def insert_deal(app: Quart, org_id: int, *, company_id: int | None = None, contact_id: int | None = None) -> int:
    """A deal straight in the table (the deals API is another feature's)."""
    deal_id = await db_of(app).fetch_val(
        "INSERT INTO deals (org_id, title, stage_id, position, company_id, contact_id)"
        " SELECT :org, 'Deal ' || gen_random_uuid(), id, 'a' || gen_random_uuid(), :company, :contact"
        " FROM pipeline_stages WHERE org_id = :org ORDER BY position LIMIT 1 RETURNING id",
        {"org": org_id, "company": company_id, "contact": contact_id},
    )
    return int(deal_id)


async def insert_activity(
    app: Quart, org_id: int, *, company_id: int | None = None, contact_id: int | None = None
) -> int:
    activity_id = await db_of(app).fetch_val(
        "INSERT INTO activities (org_id, type, subject, company_id, contact_id)"
        " VALUES (:org, 'call', 'Follow up', :company, :contact) RETURNING id",
        {"org": org_id, "company": company_id, "contact": contact_id},
    )
    return int(activity_id)


async def create(user: User, org: dict[str, Any], kind: str, **fields: Any) -> dict[str, Any]:
    response = await user.post(f"/api/v1/orgs/{org['slug']}/{kind}", json=fields)
    assert response.status == 201, response.json
    return dict(response.json)


async def walk(user: User, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await user.get(path, query_string=query)
        assert response.status == 200, response.json
        pages.append(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


def assert_error(response: Any, status: int, code: str, *fields: str) -> None:
    assert response.status == status, (response.status, response.json)
    error = response.json["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    for field in fields:
        assert field in error.get("fields", {}), error
