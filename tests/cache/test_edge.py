"""The edge (crm.edge) answers warm cached GETs before Quart, and passes everything else on.

Each test builds its own app instance with a before_request hook that counts the requests
Quart handles, so a test can tell which of the two answered.
"""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from tests.auth.support import sign_in
from tests.helpers import Api, User

READ_QUOTA = 50


@pytest.fixture
async def instance(make_app: Any) -> Quart:
    quart_app: Quart = await make_app(
        rate_limits={"read": (READ_QUOTA, 60), "write": (1000, 60), "search": (1000, 60), "auth": (1000, 60)}
    )
    quart_app.extensions["quart_requests"] = 0

    async def count_quart_requests() -> None:
        quart_app.extensions["quart_requests"] += 1

    quart_app.before_request_funcs.setdefault(None, []).insert(0, count_quart_requests)  # before any refusal
    return quart_app


def quart_handled(app: Quart) -> int:
    return int(app.extensions["quart_requests"])


async def contact_path(user: User) -> tuple[dict[str, Any], str]:
    org = await user.create_org("Edge Co")
    created = await user.post(f"/api/v1/orgs/{org['slug']}/contacts", json={"first_name": "Ada", "last_name": "L"})
    assert created.status == 201, created.json
    return org, f"/api/v1/orgs/{org['slug']}/contacts/{created.json['id']}"


def remaining(response: Any) -> int:
    """r= of the RateLimit header: the requests left in the window."""
    fields = dict(part.split("=", 1) for part in response.headers["RateLimit"].split(";")[1:])
    return int(fields["r"])


async def test_a_warm_get_is_answered_at_the_edge_exactly_as_quart_answers_it(instance: Quart) -> None:
    alice = await Api(instance).signup("alice@example.com", "Alice")
    _org, path = await contact_path(alice)
    miss = await alice.get(path)
    assert miss.status == 200 and miss.headers["X-Cache"] == "miss"
    before = quart_handled(instance)
    hit = await alice.get(path, headers={"X-Request-ID": "trace-me"})
    assert quart_handled(instance) == before, "the edge did not answer the hit"
    assert hit.status == 200 and hit.headers["X-Cache"] == "hit"
    assert hit.json == miss.json
    for name in ("ETag", "Cache-Control", "RateLimit-Policy", "Content-Security-Policy", "X-Frame-Options"):
        assert hit.headers[name] == miss.headers[name], name
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-Request-ID"] == "trace-me"
    assert remaining(hit) == remaining(miss) - 1  # counted once, like any request

    revalidated = await alice.get(path, headers={"If-None-Match": hit.headers["ETag"]})
    assert quart_handled(instance) == before
    assert revalidated.status == 304 and revalidated.headers["ETag"] == hit.headers["ETag"]


async def test_a_write_is_seen_at_once_by_the_next_edge_read(instance: Quart) -> None:
    alice = await Api(instance).signup("alice@example.com", "Alice")
    _org, path = await contact_path(alice)
    await alice.get(path)
    assert (await alice.get(path)).headers["X-Cache"] == "hit"
    etag = (await alice.get(path)).headers["ETag"]
    patched = await alice.patch(path, json={"title": "Countess"}, headers={"If-Match": etag})
    assert patched.status == 200, patched.json
    fresh = await alice.get(path)
    assert fresh.json["title"] == "Countess" and fresh.headers["X-Cache"] == "miss"


async def test_what_the_edge_passes_on_is_counted_once(instance: Quart) -> None:
    """A request the edge counted and then handed to Quart (here: the caller has no role in the
    org) must not be counted again there."""
    api = Api(instance)
    alice, mallory = await api.signup("alice@example.com", "Alice"), await api.signup("mallory@example.com", "Mal")
    _org, path = await contact_path(alice)
    await alice.get(path)  # cache the entry: the edge gets as far as the role
    first = await mallory.get(path)
    second = await mallory.get(path)
    assert first.status == second.status == 404
    assert first.json["error"]["code"] == "org_not_found"
    assert remaining(second) == remaining(first) - 1


async def test_over_the_limit_at_the_edge_is_quarts_429(instance: Quart) -> None:
    alice = await Api(instance).signup("alice@example.com", "Alice")
    _org, path = await contact_path(alice)
    seen = []
    for _ in range(READ_QUOTA + 1):
        response = await alice.get(path)
        seen.append(response.status)
        if response.status == 429:
            break
    # reads before this loop (none: the org and contact were writes) plus each GET, counted once
    assert seen == [200] * READ_QUOTA + [429]
    refused = response
    assert refused.json["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert remaining(refused) == 0


@pytest.mark.parametrize("how", ["logout", "removed", "2fa"])
async def test_a_caller_who_may_no_longer_read_is_refused_by_quart(instance: Quart, how: str) -> None:
    api = Api(instance)
    alice, bob = await api.signup("alice@example.com", "Alice"), await api.signup("bob@example.com", "Bob")
    org, path = await contact_path(alice)
    await api.add_member(alice, org, bob, "viewer")
    await bob.get(path)
    assert (await bob.get(path)).headers["X-Cache"] == "hit"  # a viewer reads at the edge
    if how == "logout":
        assert (await bob.post("/api/v1/auth/logout")).status == 204
        expected = 401
    elif how == "removed":
        assert (await alice.delete(f"/api/v1/orgs/{org['slug']}/members/{bob.id}")).status == 204
        expected = 404
    else:
        assert (await alice.patch(f"/api/v1/orgs/{org['slug']}", json={"require_2fa": True})).status == 200
        expected = 403
    before = quart_handled(instance)
    refused = await bob.get(path)
    assert refused.status == expected, refused.json
    assert quart_handled(instance) == before + 1


async def test_a_browser_session_cookie_is_answered_at_the_edge_until_it_signs_out(instance: Quart) -> None:
    api = Api(instance)
    alice = await api.signup("alice@example.com", "Alice")
    _org, path = await contact_path(alice)
    browser = await sign_in(api, "alice@example.com")
    first = await api.request("GET", path, headers=browser.cookie_headers)
    assert first.status == 200
    before = quart_handled(instance)
    hit = await api.request("GET", path, headers=browser.cookie_headers)
    assert hit.status == 200 and hit.headers["X-Cache"] == "hit" and hit.json == first.json
    assert quart_handled(instance) == before
    signed_out = await api.request("POST", "/api/v1/auth/logout", headers=browser.cookie_headers)
    assert signed_out.status == 204
    refused = await api.request("GET", path, headers=browser.cookie_headers)
    assert refused.status == 401


async def test_bad_tokens_bad_cookies_and_no_credentials_go_to_quart(instance: Quart) -> None:
    api = Api(instance)
    alice = await api.signup("alice@example.com", "Alice")
    _org, path = await contact_path(alice)
    await alice.get(path)
    before = quart_handled(instance)
    tampered = await api.request("GET", path, headers={"Authorization": f"Bearer {alice.token[:-2]}xx"})
    assert tampered.status == 401
    forged = await api.request("GET", path, headers={"Cookie": "tc_session=forged.cookie.value"})
    assert forged.status == 401
    anonymous = await api.request("GET", path)
    assert anonymous.status == 401
    assert quart_handled(instance) == before + 3


async def test_a_miss_passed_on_reuses_the_edges_lookups(instance: Quart, monkeypatch: pytest.MonkeyPatch) -> None:
    """The edge looked up the org, the role and the entry before handing a miss to Quart; the
    org guard takes that lookup instead of a second round trip, and the answer is the same."""
    alice = await Api(instance).signup("alice@example.com", "Alice")
    org, path = await contact_path(alice)
    list_path = f"/api/v1/orgs/{org['slug']}/contacts"
    await alice.get(path)  # the org and the role are cached now, the list is not
    store = instance.extensions["cache"]
    lookups: list[list[str]] = []
    lookup_many = store.lookup_many

    async def counted(org_id: Any, views: Any) -> Any:
        lookups.append([kind for kind, _depends, _digest in views])
        return await lookup_many(org_id, views)

    monkeypatch.setattr(store, "lookup_many", counted)
    miss = await alice.get(list_path)
    assert miss.status == 200 and miss.headers["X-Cache"] == "miss"
    assert [item["first_name"] for item in miss.json["items"]] == ["Ada"]
    assert lookups == [["org:meta", "members:role", "contacts:list"]], "one lookup, the edge's"
    hit = await alice.get(list_path)
    assert hit.headers["X-Cache"] == "hit" and hit.json == miss.json

    # a write between two reads is seen: the handed lookup is this request's, never an older one
    created = await alice.post(list_path, json={"first_name": "Bea", "last_name": "M"})
    assert created.status == 201
    lookups.clear()
    fresh = await alice.get(list_path)
    assert fresh.headers["X-Cache"] == "miss"
    assert sorted(item["first_name"] for item in fresh.json["items"]) == ["Ada", "Bea"]
    assert len(lookups) == 1
