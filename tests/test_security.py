"""Browser hardening, hostile headers, and the cached org guard across instances."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from quart import Quart

from crm.cache import generation_key, keys
from tests.helpers import PASSWORD, Api, User

ORIGIN = "http://localhost"  # the test config's BASE_URL


async def cookie_client(app: Quart, email: str) -> Any:
    """A browser-like client: signed in with the session cookie only."""
    client = app.test_client()
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    return client


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/page"}],
)
async def test_cookie_write_from_another_origin_is_refused(app: Quart, alice: User, headers: dict[str, str]) -> None:
    browser = await cookie_client(app, alice.email)
    refused = await browser.post("/api/v1/orgs", json={"name": "Forged"}, headers=headers)
    assert refused.status_code == 403
    assert (await refused.get_json())["error"]["code"] == "csrf_failed"
    assert (await alice.get("/api/v1/me")).json["orgs"] == []  # nothing was written


async def test_cookie_write_from_our_origin_passes(app: Quart, alice: User) -> None:
    browser = await cookie_client(app, alice.email)
    created = await browser.post("/api/v1/orgs", json={"name": "Real"}, headers={"Origin": ORIGIN})
    assert created.status_code == 201
    same_page = await browser.post("/api/v1/orgs", json={"name": "Real 2"}, headers={"Referer": f"{ORIGIN}/o/x"})
    assert same_page.status_code == 201
    read = await browser.get("/api/v1/me")  # reads need no Origin
    assert read.status_code == 200


async def test_bearer_writes_need_no_origin(alice: User) -> None:
    assert (await alice.post("/api/v1/orgs", json={"name": "Scripted"})).status == 201


def cookie_attributes(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}


async def test_session_cookie_is_httponly_and_samesite_lax(api: Api, alice: User) -> None:
    response = await api.request("POST", "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith("tc_session=")
    assert {"httponly", "samesite"} <= cookie_attributes(set_cookie)
    assert "samesite=lax" in set_cookie.lower().replace(" ", "")
    assert "secure" not in cookie_attributes(set_cookie)  # BASE_URL is http here


async def test_session_cookie_is_secure_behind_https(make_app: Any, alice: User) -> None:
    https_app = await make_app(base_url="https://crm.example.com")
    response = await Api(https_app).request(
        "POST", "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD}, scheme="https"
    )
    assert response.status == 200
    assert {"secure", "httponly", "samesite"} <= cookie_attributes(response.headers["Set-Cookie"])


@pytest.mark.parametrize("path", ["/api/v1/me", "/healthz", "/login"])
async def test_security_headers_on_every_kind_of_response(api: Api, path: str) -> None:
    response = await api.request("GET", path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer " + "a" * 100_000},
        {"Authorization": "Bearer tck_" + "0" * 12 + "_" + "s" * 100_000},
        {"Cookie": "tc_session=" + "x" * 100_000},
        {"X-Forwarded-For": ", ".join(["203.0.113.9"] * 5000)},
        {"X-Request-ID": "r" * 100_000},
    ],
)
async def test_huge_headers_get_a_clear_4xx(api: Api, headers: dict[str, str]) -> None:
    response = await api.request("GET", "/api/v1/me", headers=headers)
    assert response.status == 401
    assert response.json["error"]["code"] in {"not_authenticated", "invalid_api_key"}
    assert len(response.headers["X-Request-ID"]) <= 64


@pytest.fixture
async def team(api: Api, alice: User, bob: User, org: dict[str, Any]) -> dict[str, Any]:
    await api.add_member(alice, org, bob, "member")
    return org


async def test_role_change_on_one_instance_is_seen_by_another(
    make_app: Any, alice: User, bob: User, team: dict[str, Any]
) -> None:
    other = Api(await make_app())
    path = f"/api/v1/orgs/{team['slug']}"
    assert (await other.request("GET", path, headers=bob.auth)).json["role"] == "member"  # now cached there
    changed = await alice.patch(f"{path}/members/{bob.id}", json={"role": "viewer"})  # through the first instance
    assert changed.status == 200
    assert (await other.request("GET", path, headers=bob.auth)).json["role"] == "viewer"
    write = await other.request("PATCH", path, headers=bob.auth, json={"name": "Bob's"})
    assert write.status == 403 and write.json["error"]["code"] == "read_only"
    assert (await alice.delete(f"{path}/members/{bob.id}")).status == 204
    gone = await other.request("GET", path, headers=bob.auth)
    assert gone.status == 404 and gone.json["error"]["code"] == "org_not_found"


async def test_guard_answers_from_redis_under_the_members_generation(
    alice: User, bob: User, team: dict[str, Any], redis_url: str
) -> None:
    path = f"/api/v1/orgs/{team['slug']}"
    await bob.get(path)
    client = aioredis.Redis.from_url(redis_url)
    try:
        bobs = f":{keys.digest({'user': bob.id})}".encode()
        [key] = [k async for k in client.scan_iter(f"tc:{{{team['id']}}}:members:role:*") if k.endswith(bobs)]
        assert await client.get(key) == b'"member"'
        assert 0 < await client.ttl(key) <= 300
        await client.set(key, '"admin"', keepttl=True)  # only a cache read would see this
        as_admin = await bob.post(f"{path}/api-keys", json={"name": "cached role", "role": "viewer"})
        assert as_admin.status == 201
        await client.incr(generation_key(team["id"], "members"))  # what a member change does after commit
        as_member = await bob.post(f"{path}/api-keys", json={"name": "fresh role", "role": "viewer"})
        assert as_member.status == 403
    finally:
        await client.aclose()


async def test_guard_falls_back_to_postgres_when_redis_is_down(
    make_app: Any, alice: User, bob: User, team: dict[str, Any]
) -> None:
    offline = Api(await make_app(redis_url="redis://127.0.0.1:1/0"))
    path = f"/api/v1/orgs/{team['slug']}"
    response = await offline.request("GET", path, headers=bob.auth)
    assert response.status == 200 and response.json["role"] == "member"
    by_id = await offline.request("GET", f"/api/v1/orgs/{team['id']}", headers=alice.auth)
    assert by_id.status == 200 and by_id.json["role"] == "owner"
    stranger = await offline.request("GET", "/api/v1/orgs/no-such-org", headers=bob.auth)
    assert stranger.status == 404
