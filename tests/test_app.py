"""App-wide guarantees, checked over every route in the URL map."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from quart import Quart
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from tests.helpers import Api, User

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def concrete(rule: str, org: str) -> str:
    """A URL for a rule: `<org>` is the given org, every other variable an id."""
    path = rule.replace("<org>", org)
    return re.sub(r"<[^>]+>", "1", path)


def org_rules(app: Quart, prefix: str) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if "<org>" not in rule.rule or not rule.rule.startswith(prefix):
            continue
        for method in sorted(rule.methods or ()):
            if method in ("HEAD", "OPTIONS"):
                continue
            found.append((method, rule.rule))
    return found


async def test_every_org_route_is_a_404_for_a_member_of_another_org(
    app: Quart, alice: User, bob: User, org: dict[str, Any]
) -> None:
    await bob.create_org("Bob's Own Org")  # bob is a member somewhere, just not here
    rules = org_rules(app, "/api/v1/orgs/")
    assert len(rules) >= 20, "the URL map should hold the tenant API"
    leaks = []
    for method, rule in rules:
        for ref in (org["slug"], str(org["id"])):
            response = await bob.request(method, concrete(rule, ref), json={} if method in WRITE_METHODS else None)
            if response.status != 404 or response.json["error"]["code"] != "org_not_found":
                leaks.append((method, rule, ref, response.status))
    assert leaks == []


async def test_every_org_page_is_a_404_page_for_a_member_of_another_org(
    app: Quart, bob: User, org: dict[str, Any]
) -> None:
    rules = [(m, r) for m, r in org_rules(app, "/o/") if m == "GET"]
    assert rules, "the browser pages live under /o/<org>/"
    for _method, rule in rules:
        response = await bob.get(concrete(rule, org["slug"]), headers={"Accept": "text/html"})
        assert response.status == 404, rule


async def test_every_org_write_is_refused_to_anonymous_callers(app: Quart, api: Api, org: dict[str, Any]) -> None:
    for method, rule in org_rules(app, "/api/v1/orgs/"):
        response = await api.request(method, concrete(rule, org["slug"]), json={})
        assert response.status == 401, (method, rule)
        assert response.json["error"]["code"] == "not_authenticated"


def json_write_rules(app: Quart) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE):
            continue  # takes no JSON body
        for method in sorted(rule.methods or ()):
            if method in ("POST", "PATCH", "PUT"):
                found.append((method, rule.rule))
    return found


async def test_malformed_json_is_a_400_in_the_error_shape_on_every_write(
    app: Quart, alice: User, org: dict[str, Any]
) -> None:
    checked = 0
    for method, rule in json_write_rules(app):
        response = await alice.request(
            method, concrete(rule, org["slug"]), data=b'{"oops": ', headers={"Content-Type": "application/json"}
        )
        if response.status in (404, 401):
            continue  # ids that do not exist, or routes needing another credential
        checked += 1
        assert response.status == 400, (method, rule, response.status, response.json)
        assert response.json["error"]["code"] == "malformed_json"
        assert isinstance(response.json["error"]["message"], str)
    assert checked >= 5


async def test_a_body_over_the_limit_is_a_413(alice: User) -> None:
    response = await alice.post(
        "/api/v1/orgs",
        data=b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert response.json["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
async def test_json_that_is_not_an_object_is_a_client_error(alice: User, body: Any) -> None:
    response = await alice.post("/api/v1/orgs", json=body)
    assert response.status in (400, 422)
    assert "error" in response.json


async def test_unknown_api_path_and_wrong_method_answer_json(api: Api) -> None:
    missing = await api.request("GET", "/api/v1/nothing-here")
    assert missing.status == 404 and missing.json["error"]["code"] == "not_found"
    wrong = await api.request("DELETE", "/api/v1/auth/login")
    assert wrong.status == 405 and wrong.json["error"]["code"] == "method_not_allowed"


async def test_validation_errors_name_their_fields(api: Api) -> None:
    response = await api.request("POST", "/api/v1/auth/register", json={"email": "nope", "password": "x"})
    assert response.status == 422
    fields = response.json["error"]["fields"]
    assert {"email", "password", "name"} <= set(fields)


async def test_health_readiness_and_request_ids(api: Api) -> None:
    health = await api.request("GET", "/healthz")
    assert health.status == 200 and health.json == {"status": "ok"}
    ready = await api.request("GET", "/readyz")
    assert ready.status == 200
    assert ready.json["checks"] == {"postgres": "ok", "redis": "ok"}
    assert len(ready.headers["X-Request-ID"]) >= 8
    echoed = await api.request("GET", "/healthz", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["X-Request-ID"] == "trace-123"


async def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = await api.request("GET", "/openapi.json")
    assert spec.status == 200
    assert spec.json["openapi"].startswith("3.")
    assert "/api/v1/orgs/{org}/contacts" in spec.json["paths"]
    # documented, not validated per request (crm.http.documented_response): still in the spec
    for path, model in (("deals", "DealList"), ("contacts", "ContactPage"), ("search", "SearchOut")):
        answer = spec.json["paths"][f"/api/v1/orgs/{{org}}/{path}"]["get"]["responses"]["200"]
        assert model in orjson.dumps(answer).decode(), path
    docs = await api.request("GET", "/docs")
    assert docs.status == 200


async def test_json_bodies_come_from_the_orjson_provider(app: Quart, alice: User, org: dict[str, Any]) -> None:
    """QuartSchema installs a stdlib-json provider of its own; the app's must win (it is several times faster)."""
    from crm.jsonprovider import OrjsonProvider

    assert isinstance(app.json, OrjsonProvider)
    renamed = await alice.patch(f"/api/v1/orgs/{org['slug']}", json={"name": "Zoë Straße"})
    assert renamed.status == 200, renamed.json
    response = await app.test_client().get(f"/api/v1/orgs/{org['slug']}", headers=alice.auth)
    assert "Zoë Straße".encode() in await response.get_data()  # UTF-8, where stdlib json writes \u escapes
