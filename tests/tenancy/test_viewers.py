"""Viewers read only, except for writes that touch nothing but their own state."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, User


async def test_viewer_cannot_change_records(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    await api.add_member(alice, org, bob, "viewer")
    response = await bob.post(f"/api/v1/orgs/{org['slug']}/contacts", json={"first_name": "Eve"})
    assert response.status == 403
    assert response.json["error"]["code"] == "read_only"


async def test_viewer_marks_own_notifications_and_chat_read(
    api: Api, alice: User, bob: User, org: dict[str, Any]
) -> None:
    await api.add_member(alice, org, bob, "viewer")
    slug = org["slug"]
    read = await bob.post(f"/api/v1/orgs/{slug}/notifications/read", json={"all": True})
    assert read.status == 200, read.json
    channel = await alice.post(f"/api/v1/orgs/{slug}/channels", json={"name": "general", "kind": "public"})
    assert channel.status == 201, channel.json
    message = await alice.post(
        f"/api/v1/orgs/{slug}/channels/{channel.json['id']}/messages", json={"body": "hello", "client_id": "m1"}
    )
    assert message.status == 201, message.json
    marked = await bob.post(
        f"/api/v1/orgs/{slug}/channels/{channel.json['id']}/read", json={"message_id": message.json["id"]}
    )
    assert marked.status in (200, 204), marked.json


async def test_viewer_may_leave_but_not_remove_others(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    await api.add_member(alice, org, bob, "viewer")
    me = await bob.get("/api/v1/me")
    bob_id = me.json["id"]
    alice_id = (await alice.get("/api/v1/me")).json["id"]
    refused = await bob.delete(f"/api/v1/orgs/{org['slug']}/members/{alice_id}")
    assert refused.status == 403
    left = await bob.delete(f"/api/v1/orgs/{org['slug']}/members/{bob_id}")
    assert left.status == 204
    assert (await bob.get(f"/api/v1/orgs/{org['slug']}")).status == 404
