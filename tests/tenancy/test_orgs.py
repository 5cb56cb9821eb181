from __future__ import annotations

from typing import Any

from tests.helpers import Api, User


async def test_creator_becomes_owner_and_sees_org_in_me(alice: User) -> None:
    org = await alice.create_org("Acme Sales")
    assert org["role"] == "owner"
    assert org["slug"] == "acme-sales"
    me = await alice.get("/api/v1/me")
    assert me.status == 200
    assert [o["slug"] for o in me.json["orgs"]] == ["acme-sales"]


async def test_non_member_gets_404_not_403(alice: User, bob: User, org: dict[str, Any]) -> None:
    response = await bob.get(f"/api/v1/orgs/{org['slug']}")
    assert response.status == 404
    assert response.json["error"]["code"] == "org_not_found"


async def test_anonymous_gets_401(api: Api, org: dict[str, Any]) -> None:
    response = await api.request("GET", f"/api/v1/orgs/{org['slug']}")
    assert response.status == 401
    assert response.json["error"]["code"] == "not_authenticated"
