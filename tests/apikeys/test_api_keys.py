from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import redis.asyncio as aioredis
from quart import Quart

from tests.helpers import Api, User

KEY = re.compile(r"^tck_(?P<prefix>[0-9a-f]{12})_[A-Za-z0-9_-]{40,}$")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_key(user: User, org: dict[str, Any], role: str = "member", name: str = "CI") -> dict[str, Any]:
    response = await user.post(f"/api/v1/orgs/{org['slug']}/api-keys", json={"name": name, "role": role})
    assert response.status == 201, response.json
    return dict(response.json)


async def test_admin_creates_a_key_shown_once_and_stored_hashed(alice: User, org: dict[str, Any], app: Quart) -> None:
    created = await create_key(alice, org, "viewer", "Reporting")
    match = KEY.match(created["key"])
    assert match and match["prefix"] == created["prefix"]
    assert (created["name"], created["role"], created["last_used_at"]) == ("Reporting", "viewer", None)
    listed = await alice.get(f"/api/v1/orgs/{org['slug']}/api-keys")
    assert listed.status == 200
    [item] = listed.json["items"]
    assert "key" not in item and item["prefix"] == created["prefix"]
    stored = await app.extensions["db"].fetch_one(
        "SELECT secret_hash FROM api_keys WHERE id = :id", {"id": created["id"]}
    )
    assert bytes(stored["secret_hash"]) == hashlib.sha256(created["key"].encode()).digest()


async def test_key_acts_on_its_org_with_its_role(api: Api, alice: User, org: dict[str, Any]) -> None:
    viewer = await create_key(alice, org, "viewer")
    base = f"/api/v1/orgs/{org['slug']}"
    read = await api.request("GET", base + "/members", headers=bearer(viewer["key"]))
    assert read.status == 200
    by_id = await api.request("GET", f"/api/v1/orgs/{org['id']}", headers=bearer(viewer["key"]))
    assert by_id.status == 200 and by_id.json["role"] == "viewer"
    write = await api.request("PATCH", base, headers=bearer(viewer["key"]), json={"name": "Hacked"})
    assert write.status == 403
    assert write.json["error"]["code"] == "read_only"
    admin = await create_key(alice, org, "admin")
    renamed = await api.request("PATCH", base, headers=bearer(admin["key"]), json={"name": "Acme Renamed"})
    assert renamed.status == 200 and renamed.json["name"] == "Acme Renamed"


async def test_me_answers_the_keys_identity(api: Api, alice: User, org: dict[str, Any]) -> None:
    created = await create_key(alice, org, "member", "Importer")
    me = await api.request("GET", "/api/v1/me", headers=bearer(created["key"]))
    assert me.status == 200
    assert me.json["api_key"] == {
        "id": created["id"],
        "name": "Importer",
        "prefix": created["prefix"],
        "role": "member",
    }
    assert me.json["org"] == {"id": org["id"], "slug": org["slug"], "name": org["name"], "role": "member"}


async def test_key_cannot_reach_another_org(api: Api, alice: User, org: dict[str, Any]) -> None:
    other = await alice.create_org("Other Co")
    created = await create_key(alice, org, "admin")
    for ref in (other["slug"], str(other["id"]), "no-such-org"):
        refused = await api.request("GET", f"/api/v1/orgs/{ref}", headers=bearer(created["key"]))
        assert refused.status == 404
        assert refused.json["error"]["code"] == "org_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/orgs"),
        ("POST", "/api/v1/auth/2fa/setup"),
        ("GET", "/api/v1/auth/sessions"),
    ],
)
async def test_key_cannot_use_account_routes(
    api: Api, alice: User, org: dict[str, Any], method: str, path: str
) -> None:
    created = await create_key(alice, org, "owner")
    refused = await api.request(method, path, headers=bearer(created["key"]), json={"name": "x"})
    assert refused.status == 403
    assert refused.json["error"]["code"] == "api_key_not_allowed"


async def test_key_cannot_mint_keys(api: Api, alice: User, org: dict[str, Any]) -> None:
    created = await create_key(alice, org, "admin")
    path = f"/api/v1/orgs/{org['slug']}/api-keys"
    refused = await api.request("POST", path, headers=bearer(created["key"]), json={"name": "child", "role": "viewer"})
    assert refused.status == 403
    assert refused.json["error"]["code"] == "api_key_not_allowed"


async def test_only_admins_manage_keys_and_never_above_their_role(
    api: Api, alice: User, bob: User, org: dict[str, Any]
) -> None:
    path = f"/api/v1/orgs/{org['slug']}/api-keys"
    await api.add_member(alice, org, bob, "member")
    as_member = await bob.post(path, json={"name": "mine", "role": "viewer"})
    assert as_member.status == 403
    assert (await bob.get(path)).status == 403
    await alice.patch(f"/api/v1/orgs/{org['slug']}/members/{bob.id}", json={"role": "admin"})
    too_high = await bob.post(path, json={"name": "mine", "role": "owner"})
    assert too_high.status == 403
    assert too_high.json["error"]["code"] == "role_too_high"
    assert (await bob.post(path, json={"name": "mine", "role": "admin"})).status == 201


async def test_bad_key_requests_are_clear_4xx(alice: User, org: dict[str, Any]) -> None:
    path = f"/api/v1/orgs/{org['slug']}/api-keys"
    for body in ({"name": "", "role": "member"}, {"name": "x", "role": "god"}, {"name": "x", "extra": 1}):
        assert (await alice.post(path, json=body)).status == 422


async def test_revoked_key_stops_working_at_once(api: Api, alice: User, org: dict[str, Any]) -> None:
    created = await create_key(alice, org)
    base = f"/api/v1/orgs/{org['slug']}"
    assert (await api.request("GET", base, headers=bearer(created["key"]))).status == 200
    assert (await alice.delete(f"{base}/api-keys/{created['id']}")).status == 204
    refused = await api.request("GET", base, headers=bearer(created["key"]))
    assert refused.status == 401
    assert refused.json["error"]["code"] == "invalid_api_key"
    assert (await alice.get(f"{base}/api-keys")).json["items"] == []
    again = await alice.delete(f"{base}/api-keys/{created['id']}")
    assert again.status == 404 and again.json["error"]["code"] == "api_key_not_found"


async def test_keys_of_another_org_cannot_be_revoked_from_here(alice: User, org: dict[str, Any]) -> None:
    other = await alice.create_org("Other Co")
    foreign = await create_key(alice, other)
    refused = await alice.delete(f"/api/v1/orgs/{org['slug']}/api-keys/{foreign['id']}")
    assert refused.status == 404
    assert len((await alice.get(f"/api/v1/orgs/{other['slug']}/api-keys")).json["items"]) == 1


async def test_forged_and_malformed_keys_are_refused(api: Api, alice: User, org: dict[str, Any]) -> None:
    created = await create_key(alice, org)
    forged = created["key"][:-4] + ("aaaa" if not created["key"].endswith("aaaa") else "bbbb")
    base = f"/api/v1/orgs/{org['slug']}"
    for key in (forged, "tck_", "tck_zz_short", "tck_" + "a" * 5000):
        refused = await api.request("GET", base, headers=bearer(key))
        assert refused.status == 401, key[:40]
        assert refused.json["error"]["code"] == "invalid_api_key"


async def test_last_used_is_recorded_at_most_once_a_minute(api: Api, alice: User, org: dict[str, Any]) -> None:
    created = await create_key(alice, org)
    base = f"/api/v1/orgs/{org['slug']}"
    await api.request("GET", base, headers=bearer(created["key"]))
    first = (await alice.get(f"{base}/api-keys")).json["items"][0]["last_used_at"]
    await api.request("GET", base, headers=bearer(created["key"]))
    second = (await alice.get(f"{base}/api-keys")).json["items"][0]["last_used_at"]
    assert first is not None and first == second


async def test_key_has_its_own_rate_limit_bucket(api: Api, alice: User, org: dict[str, Any], redis_url: str) -> None:
    created = await create_key(alice, org)
    response = await api.request("GET", f"/api/v1/orgs/{org['slug']}", headers=bearer(created["key"]))
    assert response.headers["RateLimit-Policy"].startswith('"read"')
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.exists(f"tc:rl:read:key:{created['id']}") == 1
    finally:
        await client.aclose()
