"""The hot list routes skip pydantic on each response (crm.http.documented_response); here
every such route's body is checked against its documented model, field for field.

A body passes when the model accepts it in strict mode (no value of another type) and has
exactly the model's fields at every level (none missing, none extra: a sort key leaking onto
the wire fails). That is what `validate_response` would have let through.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from quart import Quart

from crm.http import DOCUMENTED_RESPONSE
from tests.helpers import User

# endpoint -> the query strings to try (each also paged once through its next_cursor)
QUERIES: dict[str, list[str]] = {
    "contacts.list_contacts": ["", "sort=-created_at&limit=2", "q=ada", "company={company}", "sort=name&limit=1"],
    "companies.list_companies": ["", "sort=name&limit=1", "q=blue"],
    "deals.list_deals": [
        "",
        "limit=1",
        "stage={stage}&sort=-amount",
        "status=won",
        "sort=expected_close_date&limit=1",
        "q=renewal",
    ],
    "activities.list_activities": ["", "sort=-due_at&limit=1", "done=false", "q=call"],
    "search.search": ["q=ada", "q=renewal&limit=2", "q=blue+labs"],
}


def same_fields(body: Any, validated: Any) -> bool:
    """The same keys at every level of two JSON-shaped values."""
    if isinstance(body, dict):
        return (
            isinstance(validated, dict)
            and set(body) == set(validated)
            and all(same_fields(body[key], validated[key]) for key in body)
        )
    if isinstance(body, list):
        return (
            isinstance(validated, list)
            and len(body) == len(validated)
            and all(same_fields(a, b) for a, b in zip(body, validated, strict=True))
        )
    return True


def documented(app: Quart) -> dict[str, type[BaseModel]]:
    return {
        endpoint: getattr(view, DOCUMENTED_RESPONSE)
        for endpoint, view in app.view_functions.items()
        if hasattr(view, DOCUMENTED_RESPONSE)
    }


async def seed(alice: User, base: str) -> dict[str, Any]:
    async def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await alice.post(f"{base}/{path}", json=body)
        assert response.status == 201, response.json
        return dict(response.json)

    company = await created("companies", {"name": "Blue Labs", "domain": "bluelabs.example"})
    await created("companies", {"name": "North Works"})
    ada = await created("contacts", {"first_name": "Ada", "last_name": "Lovelace", "company_id": company["id"]})
    await created("contacts", {"first_name": "Ben", "last_name": "Baker", "email": "ben@example.com"})
    stages = (await alice.get(f"{base}/stages")).json["items"]
    won = next(s for s in stages if s["kind"] == "won")
    deal = await created(
        "deals",
        {
            "title": "Renewal 2027",
            "amount": 120000,
            "contact_id": ada["id"],
            "company_id": company["id"],
            "expected_close_date": "2026-12-20",
            "probability": 60,
        },
    )
    closed = await created("deals", {"title": "Pilot", "amount": 5000})
    moved = await alice.post(f"{base}/deals/{closed['id']}/move", json={"stage_id": won["id"], "version": 1})
    assert moved.status == 200, moved.json
    await created(
        "activities",
        {"type": "call", "subject": "Call about renewal", "due_at": "2026-12-01T10:00:00Z", "deal_id": deal["id"]},
    )
    await created("activities", {"type": "note", "subject": "Met at the fair", "contact_id": ada["id"]})
    return {"company": company["id"], "stage": deal["stage_id"]}


async def test_every_documented_route_answers_its_model_exactly(app: Quart, alice: User, org: dict[str, Any]) -> None:
    routes = documented(app)
    assert set(routes) == set(QUERIES), "a documented route without queries here, or the other way round"
    base = f"/api/v1/orgs/{org['slug']}"
    values = await seed(alice, base)
    paths = {endpoint: next(r.rule for r in app.url_map.iter_rules() if r.endpoint == endpoint) for endpoint in routes}
    checked = 0
    for endpoint, model in routes.items():
        path = paths[endpoint].replace("/api/v1/orgs/<org>", base)
        for query in QUERIES[endpoint]:
            url = f"{path}?{query.format(**values)}"
            response = await alice.get(url)
            assert response.status == 200, (url, response.json)
            bodies = [response.json]
            if response.json.get("next_cursor"):
                following = await alice.get(f"{url}&cursor={response.json['next_cursor']}")
                assert following.status == 200, (url, following.json)
                bodies.append(following.json)
            for body in bodies:
                # strict: an int is an int, a string a string (JSON's ISO datetimes are allowed)
                validated = model.model_validate_json(orjson.dumps(body), strict=True).model_dump()
                assert same_fields(body, validated), url
                checked += 1
            assert any(body.get("items") for body in bodies) or "blue" in query, f"{url} answered nothing to check"
    assert checked >= sum(len(q) for q in QUERIES.values())
