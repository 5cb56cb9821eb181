"""GET /me from the cache: HTTP caching headers, and every write that changes what /me shows.

The people: Alice owns Acme, Mo is a member of Acme, Carol has no org yet, Bob owns Rival
Corp. After each write, the users it concerns see it on their next /me; everyone else's
/me answers the same body, and from the cache where none of the views it is built from
changed (Bob's, always: he shares nothing with the others).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from quart import Quart

from tests.auth.support import drain_background, link_token, mailbox
from tests.auth.test_oidc import sign_in_with_provider
from tests.cache.support import ok
from tests.helpers import PASSWORD, Api, User
from tests.invitations.test_invitations import invitation_token, invite
from tests.twofactor.test_twofactor import code, enable_2fa

ME = "/api/v1/me"


async def test_me_sends_an_etag_and_answers_304_until_it_changes(alice: User) -> None:
    first, second = await alice.get(ME), await alice.get(ME)
    assert (first.status, first.headers["X-Cache"], second.headers["X-Cache"]) == (200, "miss", "hit")
    assert first.json == second.json
    assert first.json["two_factor_enabled"] is False and first.json["orgs"] == []
    etag = first.headers["ETag"]
    assert etag == second.headers["ETag"] and etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, max-age=0, must-revalidate"
    not_modified = await alice.get(ME, headers={"If-None-Match": etag})
    assert (not_modified.status, not_modified.headers["ETag"]) == (304, etag)

    await ok(alice, "PATCH", ME, {"name": "Alice A. Adams"})
    changed = await alice.get(ME, headers={"If-None-Match": etag})
    assert (changed.status, changed.json["name"]) == (200, "Alice A. Adams")
    assert changed.headers["ETag"] != etag


async def test_me_lists_orgs_by_name_with_the_callers_role(api: Api, alice: User, bob: User) -> None:
    zed = await bob.create_org("zed works")
    acme = await alice.create_org("Acme Sales")
    await api.add_member(bob, zed, alice, "viewer")
    for _ in range(2):  # the second round is built from cached views
        orgs = (await alice.get(ME)).json["orgs"]
        assert orgs == [
            {"id": acme["id"], "slug": acme["slug"], "name": "Acme Sales", "role": "owner"},
            {"id": zed["id"], "slug": zed["slug"], "name": "zed works", "role": "viewer"},
        ]
    assert (await alice.get(ME)).headers["X-Cache"] == "hit"


async def test_an_api_key_gets_its_identity_with_an_etag(alice: User, org: dict[str, Any], api: Api) -> None:
    created = await alice.post(f"/api/v1/orgs/{org['slug']}/api-keys", json={"name": "ci", "role": "viewer"})
    assert created.status == 201, created.json
    key = {"Authorization": f"Bearer {created.json['key']}"}
    first = await api.request("GET", ME, headers=key)
    assert (first.status, first.json["org"]["slug"], first.headers["X-Cache"]) == (200, org["slug"], "miss")
    again = await api.request("GET", ME, headers={**key, "If-None-Match": first.headers["ETag"]})
    assert again.status == 304


@dataclass
class People:
    app: Quart
    api: Api
    alice: User
    mo: User
    carol: User
    bob: User
    acme: dict[str, Any]
    carol_totp_secret: str = ""

    def everyone(self) -> dict[str, User]:
        return {"alice": self.alice, "mo": self.mo, "carol": self.carol, "bob": self.bob}


@pytest.fixture
async def people(app: Quart, api: Api, alice: User, bob: User, org: dict[str, Any]) -> People:
    mo = await api.signup("mo@example.com", "Mo Member")
    await api.add_member(alice, org, mo, "member")
    carol = await api.signup("carol@example.com", "Carol Newcomer")
    await bob.create_org("Rival Corp")
    return People(app, api, alice, mo, carol, bob, org)


def acme_roles(me: dict[str, Any], acme: dict[str, Any]) -> list[str]:
    return [org["role"] for org in me["orgs"] if org["id"] == acme["id"]]


@dataclass
class Change:
    """What a write must change: who sees what, and whose /me must still be a cache hit."""

    seen: dict[str, Callable[[dict[str, Any]], bool]]
    hits: set[str]


async def rename_self(p: People) -> Change:
    await ok(p.alice, "PATCH", ME, {"name": "Alice Renamed"})
    return Change({"alice": lambda me: me["name"] == "Alice Renamed"}, {"mo", "carol", "bob"})


async def verify_email(p: People) -> Change:
    token = link_token((await mailbox(p.api, p.carol.email))[0], "/verify-email")
    assert (await p.api.request("POST", "/api/v1/auth/verify-email", json={"token": token})).status == 200
    return Change({"carol": lambda me: me["email_verified"] is True}, {"alice", "mo", "bob"})


async def reset_password(p: People) -> Change:
    assert (await p.api.request("POST", "/api/v1/auth/password-reset", json={"email": p.carol.email})).status == 202
    await drain_background(p.app)
    mail = next(m for m in await mailbox(p.api, p.carol.email) if "reset" in m["subject"].lower())
    body = {"token": link_token(mail, "/reset-password"), "password": "a brand new one"}
    assert (await p.api.request("POST", "/api/v1/auth/password-reset/confirm", json=body)).status == 204
    p.carol = await p.api.login(p.carol.email, "a brand new one")  # every session was signed out
    return Change({"carol": lambda me: me["email_verified"] is True}, {"alice", "mo", "bob"})


async def turn_on_2fa(p: People) -> Change:
    await enable_2fa(p.carol)
    return Change({"carol": lambda me: me["two_factor_enabled"] is True}, {"alice", "mo", "bob"})


async def turn_off_2fa(p: People) -> Change:
    """Carol turned 2FA on before the views were read."""
    disabled = await p.carol.post("/api/v1/auth/2fa/disable", json={"code": code(p.carol_totp_secret)})
    assert disabled.status == 204, disabled.json
    return Change({"carol": lambda me: me["two_factor_enabled"] is False}, {"alice", "mo", "bob"})


async def create_org(p: People) -> Change:
    await p.carol.create_org("Carol Consulting")
    return Change({"carol": lambda me: [o["name"] for o in me["orgs"]] == ["Carol Consulting"]}, {"alice", "mo", "bob"})


async def add_member(p: People) -> Change:
    await p.api.add_member(p.alice, p.acme, p.carol, "viewer")
    return Change({"carol": lambda me: acme_roles(me, p.acme) == ["viewer"]}, {"bob"})


async def change_role(p: People) -> Change:
    await ok(p.alice, "PATCH", f"/api/v1/orgs/{p.acme['slug']}/members/{p.mo.id}", {"role": "admin"})
    return Change({"mo": lambda me: acme_roles(me, p.acme) == ["admin"]}, {"carol", "bob"})


async def remove_member(p: People) -> Change:
    assert (await p.alice.delete(f"/api/v1/orgs/{p.acme['slug']}/members/{p.mo.id}")).status == 204
    return Change({"mo": lambda me: me["orgs"] == []}, {"carol", "bob"})


async def leave_org(p: People) -> Change:
    assert (await p.mo.delete(f"/api/v1/orgs/{p.acme['slug']}/members/{p.mo.id}")).status == 204
    return Change({"mo": lambda me: me["orgs"] == []}, {"carol", "bob"})


async def rename_org(p: People) -> Change:
    await ok(p.alice, "PATCH", f"/api/v1/orgs/{p.acme['slug']}", {"name": "Acme Renamed"})

    def renamed(me: dict[str, Any]) -> bool:
        return [o["name"] for o in me["orgs"]] == ["Acme Renamed"]

    return Change({"alice": renamed, "mo": renamed}, {"carol", "bob"})


async def accept_invitation(p: People) -> Change:
    await invite(p.alice, p.acme, p.carol.email, "admin")
    token = await invitation_token(p.api, p.carol.email)
    await ok(p.carol, "POST", "/api/v1/invitations/accept", {"token": token})

    def joined(me: dict[str, Any]) -> bool:
        return acme_roles(me, p.acme) == ["admin"] and me["email_verified"] is True

    return Change({"carol": joined}, {"bob"})


async def sign_in_with_a_provider(p: People, provider: Any) -> Change:
    provider.user = {"sub": "carol-at-idp", "email": p.carol.email, "email_verified": True}
    _, response = await sign_in_with_provider(p.api)
    assert response.status == 302, response.json
    return Change({"carol": lambda me: me["email_verified"] is True}, {"alice", "mo", "bob"})


WRITES: dict[str, Callable[..., Awaitable[Change]]] = {
    "rename_self": rename_self,
    "verify_email": verify_email,
    "reset_password": reset_password,
    "turn_on_2fa": turn_on_2fa,
    "turn_off_2fa": turn_off_2fa,
    "create_org": create_org,
    "add_member": add_member,
    "change_role": change_role,
    "remove_member": remove_member,
    "leave_org": leave_org,
    "rename_org": rename_org,
    "accept_invitation": accept_invitation,
}


async def read_all(p: People) -> dict[str, Any]:
    seen = {}
    for name, user in p.everyone().items():
        response = await user.get(ME)
        assert response.status == 200, (name, response.json)
        seen[name] = response
    return seen


async def check_write(people: People, write: Callable[[], Awaitable[Change]]) -> None:
    await read_all(people)
    before = await read_all(people)
    assert {name: r.headers["X-Cache"] for name, r in before.items()} == dict.fromkeys(before, "hit")

    change = await write()
    after = await read_all(people)
    for name, response in after.items():
        if name in change.seen:
            assert change.seen[name](response.json), (name, response.json)
            assert response.json != before[name].json
        else:
            assert response.json == before[name].json, name
        if name in change.hits:
            assert response.headers["X-Cache"] == "hit", name


@pytest.mark.parametrize("write", list(WRITES))
async def test_each_write_changes_me_for_whom_it_concerns_and_no_one_else(people: People, write: str) -> None:
    if write == "turn_off_2fa":
        people.carol_totp_secret, _ = await enable_2fa(people.carol)
    await check_write(people, lambda: WRITES[write](people))


async def test_an_openid_sign_in_that_verifies_the_email_changes_me(people: People, provider: Any) -> None:
    await check_write(people, lambda: sign_in_with_a_provider(people, provider))


async def test_a_user_whose_password_changes_keeps_the_same_me(alice: User) -> None:
    """The password is not part of /me: changing it leaves the cached answer in place."""
    before = await alice.get(ME)
    await ok(alice, "POST", "/api/v1/auth/password", {"current_password": PASSWORD, "password": "another one!"})
    after = await alice.get(ME)
    assert (after.json, after.headers["X-Cache"]) == (before.json, "hit")
