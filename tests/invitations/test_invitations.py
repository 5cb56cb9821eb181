"""Inviting people to an org by email: create, list, revoke, accept at sign-up or when signed in."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from databases import Database
from quart import Quart

from crm.auth import onetime
from tests.auth.support import link_token, mailbox
from tests.helpers import PASSWORD, Api, User


async def invite(owner: User, org: dict[str, Any], email: str, role: str = "member") -> dict[str, Any]:
    response = await owner.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": email, "role": role})
    assert response.status == 201, response.json
    return dict(response.json)


async def invitation_token(api: Api, email: str) -> str:
    mail = next(m for m in await mailbox(api, email) if "invited" in m["subject"])
    return link_token(mail, "/invite")


async def test_admin_invites_by_email_and_sees_it_pending(
    api: Api, alice: User, org: dict[str, Any], rds: aioredis.Redis
) -> None:
    created = await invite(alice, org, "carol@example.com", "admin")
    assert created["email"] == "carol@example.com" and created["role"] == "admin"
    assert created["invited_by"] == alice.id
    pending = await alice.get(f"/api/v1/orgs/{org['slug']}/invitations")
    assert pending.status == 200
    assert [item["id"] for item in pending.json["items"]] == [created["id"]]
    assert pending.json["next_cursor"] is None
    token = await invitation_token(api, "carol@example.com")
    ttl = await rds.ttl(onetime.token_key("invite", onetime.token_hash(token)))
    assert 7 * 24 * 3600 - 60 < ttl <= 7 * 24 * 3600


async def test_new_user_joins_at_sign_up_with_the_invited_role(
    app: Quart, api: Api, alice: User, org: dict[str, Any]
) -> None:
    await invite(alice, org, "carol@example.com", "viewer")
    token = await invitation_token(api, "carol@example.com")
    created = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "Carol@example.com", "password": PASSWORD, "name": "Carol", "invitation_token": token},
    )
    assert created.status == 201, created.json
    assert created.json["email_verified"] is True  # the invitation reached that inbox
    carol = await api.login("Carol@example.com")
    me = await carol.get("/api/v1/me")
    assert [(o["slug"], o["role"]) for o in me.json["orgs"]] == [(org["slug"], "viewer")]
    pending = await alice.get(f"/api/v1/orgs/{org['slug']}/invitations")
    assert pending.json["items"] == []
    db: Database = app.extensions["db"]
    event = await db.fetch_one(
        "SELECT type, actor_id, data FROM events WHERE org_id = :org ORDER BY seq DESC LIMIT 1", {"org": org["id"]}
    )
    assert event is not None and event["type"] == "member.changed" and event["actor_id"] == created.json["id"]
    # single use: a second sign-up with the same token is refused and creates nobody
    again = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "carol2@example.com", "password": PASSWORD, "name": "Carol 2", "invitation_token": token},
    )
    assert again.status == 400 and again.json["error"]["code"] == "invalid_token"
    assert await db.fetch_val("SELECT count(*) FROM users WHERE email = 'carol2@example.com'") == 0


async def test_sign_up_with_a_foreign_or_bad_invitation_creates_no_user(
    app: Quart, api: Api, alice: User, org: dict[str, Any]
) -> None:
    await invite(alice, org, "carol@example.com")
    token = await invitation_token(api, "carol@example.com")
    db: Database = app.extensions["db"]
    for email, bad_token, status, code in (
        ("dave@example.com", token, 403, "invitation_email_mismatch"),
        ("carol@example.com", "not-a-real-token", 400, "invalid_token"),
    ):
        response = await api.request(
            "POST",
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": "X", "invitation_token": bad_token},
        )
        assert response.status == status and response.json["error"]["code"] == code
        assert await db.fetch_val("SELECT count(*) FROM users WHERE email = :e", {"e": email}) == 0
    # the rightful invitee can still use it
    ok = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "carol@example.com", "password": PASSWORD, "name": "Carol", "invitation_token": token},
    )
    assert ok.status == 201


async def test_signed_in_user_accepts_and_joins(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    await invite(alice, org, "BOB@example.com", "admin")
    token = await invitation_token(api, "BOB@example.com")
    accepted = await bob.post("/api/v1/invitations/accept", json={"token": token})
    assert accepted.status == 200, accepted.json
    assert accepted.json == {"id": org["id"], "slug": org["slug"], "name": org["name"], "role": "admin"}
    members = await alice.get(f"/api/v1/orgs/{org['slug']}/members")
    assert {(m["email"], m["role"]) for m in members.json["items"]} >= {("bob@example.com", "admin")}
    replay = await bob.post("/api/v1/invitations/accept", json={"token": token})
    assert replay.status == 400


async def test_invitation_for_another_address_is_refused(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    await invite(alice, org, "carol@example.com")
    token = await invitation_token(api, "carol@example.com")
    response = await bob.post("/api/v1/invitations/accept", json={"token": token})
    assert response.status == 403 and response.json["error"]["code"] == "invitation_email_mismatch"
    assert (await bob.get(f"/api/v1/orgs/{org['slug']}")).status == 404
    anonymous = await api.request("POST", "/api/v1/invitations/accept", json={"token": token})
    assert anonymous.status == 401


async def test_revoked_invitation_cannot_be_used(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    created = await invite(alice, org, "bob@example.com")
    token = await invitation_token(api, "bob@example.com")
    assert (await alice.delete(f"/api/v1/orgs/{org['slug']}/invitations/{created['id']}")).status == 204
    assert (await alice.delete(f"/api/v1/orgs/{org['slug']}/invitations/{created['id']}")).status == 404
    response = await bob.post("/api/v1/invitations/accept", json={"token": token})
    assert response.status == 400 and response.json["error"]["code"] == "invalid_token"


async def test_reinviting_replaces_the_pending_invitation(
    api: Api, alice: User, bob: User, org: dict[str, Any]
) -> None:
    await invite(alice, org, "bob@example.com", "viewer")
    first = await invitation_token(api, "bob@example.com")
    await invite(alice, org, "bob@example.com", "member")
    pending = await alice.get(f"/api/v1/orgs/{org['slug']}/invitations")
    assert [item["role"] for item in pending.json["items"]] == ["member"]
    assert (await bob.post("/api/v1/invitations/accept", json={"token": first})).status == 400
    second = await invitation_token(api, "bob@example.com")
    assert (await bob.post("/api/v1/invitations/accept", json={"token": second})).json["role"] == "member"


async def test_only_admins_invite_and_only_owners_invite_owners(
    api: Api, alice: User, bob: User, org: dict[str, Any]
) -> None:
    await api.add_member(alice, org, bob, "member")
    as_member = await bob.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "c@example.com"})
    assert as_member.status == 403
    assert (await bob.get(f"/api/v1/orgs/{org['slug']}/invitations")).status == 403
    await alice.patch(f"/api/v1/orgs/{org['slug']}/members/{bob.id}", json={"role": "admin"})
    as_admin = await bob.post(
        f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "c@example.com", "role": "owner"}
    )
    assert as_admin.status == 403
    assert (await bob.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "c@example.com"})).status == 201


async def test_inviting_a_member_or_bad_input_is_a_clear_4xx(
    api: Api, alice: User, bob: User, org: dict[str, Any]
) -> None:
    await api.add_member(alice, org, bob, "member")
    existing = await alice.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "Bob@Example.com"})
    assert existing.status == 409 and existing.json["error"]["code"] == "already_member"
    bad_email = await alice.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "not-an-email"})
    assert bad_email.status == 422 and "email" in bad_email.json["error"]["fields"]
    bad_role = await alice.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "c@x.com", "role": "god"})
    assert bad_role.status == 422
    outsider = await api.signup("eve@example.com", "Eve")
    assert (await outsider.get(f"/api/v1/orgs/{org['slug']}/invitations")).status == 404


async def test_pending_list_pages_with_a_cursor(alice: User, org: dict[str, Any]) -> None:
    for n in range(5):
        await invite(alice, org, f"person{n}@example.com")
    first = await alice.get(f"/api/v1/orgs/{org['slug']}/invitations?limit=3")
    assert len(first.json["items"]) == 3 and first.json["next_cursor"]
    second = await alice.get(f"/api/v1/orgs/{org['slug']}/invitations?limit=3&cursor={first.json['next_cursor']}")
    assert len(second.json["items"]) == 2 and second.json["next_cursor"] is None
    emails = [i["email"] for i in first.json["items"] + second.json["items"]]
    assert emails == [f"person{n}@example.com" for n in range(5)]
    bad = await alice.get(f"/api/v1/orgs/{org['slug']}/invitations?cursor=zzz")
    assert bad.status == 422
