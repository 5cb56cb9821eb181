from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from quart import Quart

from crm.tenancy.scope import select_membership
from tests.helpers import PASSWORD, Api, User


def code(secret: str, steps_from_now: int = 0) -> str:
    """The TOTP code of a time step near now (the server accepts the previous, current and next)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


async def enable_2fa(user: User) -> tuple[str, list[str]]:
    setup = await user.post("/api/v1/auth/2fa/setup")
    assert setup.status == 200, setup.json
    secret = setup.json["secret"]
    confirmed = await user.post("/api/v1/auth/2fa/confirm", json={"code": code(secret, -1)})
    assert confirmed.status == 200, confirmed.json
    return secret, confirmed.json["recovery_codes"]


async def login(api: Api, email: str, password: str = PASSWORD) -> Any:
    return await api.request("POST", "/api/v1/auth/login", json={"email": email, "password": password})


async def test_setup_gives_secret_otpauth_uri_and_qr_code(alice: User) -> None:
    setup = await alice.post("/api/v1/auth/2fa/setup")
    assert setup.status == 200
    uri = urlsplit(setup.json["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/TinyCRM:alice@example.com"
    assert parse_qs(uri.query)["secret"] == [setup.json["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["TinyCRM"]
    prefix = "data:image/svg+xml;base64,"
    assert setup.json["qr_code"].startswith(prefix)
    assert b"<svg" in base64.b64decode(setup.json["qr_code"][len(prefix) :])
    status = await alice.get("/api/v1/auth/2fa")
    assert status.json == {"enabled": False, "pending": True, "recovery_codes_left": 0}


async def test_confirm_turns_2fa_on_with_ten_hashed_single_use_codes(alice: User, app: Quart) -> None:
    _, codes = await enable_2fa(alice)
    assert len(codes) == len(set(codes)) == 10
    stored = await app.extensions["db"].fetch_all(
        "SELECT code_hash FROM user_recovery_codes WHERE user_id = :id", {"id": alice.id}
    )
    hashes = {bytes(row["code_hash"]) for row in stored}
    assert hashes == {hashlib.sha256(c.replace("-", "").encode()).digest() for c in codes}
    status = await alice.get("/api/v1/auth/2fa")
    assert status.json == {"enabled": True, "pending": False, "recovery_codes_left": 10}
    again = await alice.post("/api/v1/auth/2fa/setup")
    assert again.status == 409
    assert again.json["error"]["code"] == "2fa_already_enabled"


async def test_confirm_with_a_wrong_code_leaves_2fa_off(alice: User) -> None:
    setup = await alice.post("/api/v1/auth/2fa/setup")
    wrong = str((int(code(setup.json["secret"])) + 1) % 1_000_000).zfill(6)
    for bad in (wrong, "abc", "12345678901234567890"):
        refused = await alice.post("/api/v1/auth/2fa/confirm", json={"code": bad})
        assert refused.status == 422
        assert refused.json["error"]["code"] == "invalid_code"
    assert (await alice.get("/api/v1/auth/2fa")).json["enabled"] is False


async def test_confirm_before_setup_is_a_conflict(alice: User) -> None:
    refused = await alice.post("/api/v1/auth/2fa/confirm", json={"code": "123456"})
    assert refused.status == 409
    assert refused.json["error"]["code"] == "2fa_setup_not_started"


async def test_login_with_2fa_takes_two_steps(api: Api, alice: User) -> None:
    secret, _ = await enable_2fa(alice)
    first = await login(api, alice.email)
    assert first.status == 200
    assert first.json["mfa_required"] is True
    assert "access_token" not in first.json
    assert "tc_session" not in first.headers.get("Set-Cookie", "")
    finished = await api.request(
        "POST", "/api/v1/auth/mfa", json={"mfa_token": first.json["mfa_token"], "code": code(secret)}
    )
    assert finished.status == 200, finished.json
    assert finished.json["token_type"] == "Bearer"
    assert finished.json["refresh_token"]
    assert "tc_session=" in finished.headers["Set-Cookie"]
    me = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {finished.json['access_token']}"})
    assert me.status == 200 and me.json["email"] == alice.email
    replay = await api.request(
        "POST", "/api/v1/auth/mfa", json={"mfa_token": first.json["mfa_token"], "code": code(secret, 1)}
    )
    assert replay.status == 401
    assert replay.json["error"]["code"] == "invalid_mfa_token"


async def test_a_totp_code_is_accepted_only_once(api: Api, alice: User) -> None:
    setup = await alice.post("/api/v1/auth/2fa/setup")
    used = code(setup.json["secret"])
    assert (await alice.post("/api/v1/auth/2fa/confirm", json={"code": used})).status == 200
    challenge = await login(api, alice.email)
    replay = await api.request(
        "POST", "/api/v1/auth/mfa", json={"mfa_token": challenge.json["mfa_token"], "code": used}
    )
    assert replay.status == 401
    assert replay.json["error"]["code"] == "invalid_code"


async def test_wrong_codes_burn_the_challenge_after_five_tries(api: Api, alice: User) -> None:
    secret, _ = await enable_2fa(alice)
    token = (await login(api, alice.email)).json["mfa_token"]
    for left in range(4, -1, -1):
        wrong = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": "000000"})
        assert wrong.status == 401
        assert wrong.json["error"]["code"] == "invalid_code"
        assert wrong.json["error"]["attempts_left"] == left
    late = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": code(secret)})
    assert late.status == 401
    assert late.json["error"]["code"] == "invalid_mfa_token"


async def test_recovery_codes_work_once(api: Api, alice: User) -> None:
    _, codes = await enable_2fa(alice)
    token = (await login(api, alice.email)).json["mfa_token"]
    spoken = codes[0].upper().replace("-", " ")  # read aloud or retyped: case and separators do not matter
    ok = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": spoken})
    assert ok.status == 200, ok.json
    token = (await login(api, alice.email)).json["mfa_token"]
    reused = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": codes[0]})
    assert reused.status == 401
    assert reused.json["error"]["code"] == "invalid_code"
    assert (await alice.get("/api/v1/auth/2fa")).json["recovery_codes_left"] == 9


async def test_unknown_mfa_token_is_refused(api: Api) -> None:
    refused = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": "nope", "code": "123456"})
    assert refused.status == 401
    assert refused.json["error"]["code"] == "invalid_mfa_token"
    malformed = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": "x" * 500, "code": "1"})
    assert malformed.status == 422


async def test_disable_needs_a_valid_code_and_removes_everything(api: Api, alice: User, app: Quart) -> None:
    secret, codes = await enable_2fa(alice)
    wrong = await alice.post("/api/v1/auth/2fa/disable", json={"code": "000000"})
    assert wrong.status == 422 and wrong.json["error"]["code"] == "invalid_code"
    assert (await alice.post("/api/v1/auth/2fa/disable", json={"code": codes[3]})).status == 204
    assert (await alice.get("/api/v1/auth/2fa")).json == {"enabled": False, "pending": False, "recovery_codes_left": 0}
    left = await app.extensions["db"].fetch_val(
        "SELECT count(*) FROM user_recovery_codes WHERE user_id = :id", {"id": alice.id}
    )
    assert left == 0
    plain = await login(api, alice.email)
    assert plain.status == 200 and plain.json["access_token"]
    again = await alice.post("/api/v1/auth/2fa/disable", json={"code": code(secret)})
    assert again.status == 409 and again.json["error"]["code"] == "2fa_not_enabled"


async def test_regenerated_recovery_codes_replace_the_old_ones(api: Api, alice: User) -> None:
    secret, old = await enable_2fa(alice)
    fresh = await alice.post("/api/v1/auth/2fa/recovery-codes", json={"code": code(secret)})
    assert fresh.status == 200
    new = fresh.json["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    token = (await login(api, alice.email)).json["mfa_token"]
    stale = await api.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": old[0]})
    assert stale.status == 401


async def test_wrong_password_never_reaches_the_second_step(api: Api, alice: User) -> None:
    await enable_2fa(alice)
    wrong = await login(api, alice.email, "not the password")
    assert wrong.status == 401
    assert wrong.json["error"]["code"] == "invalid_credentials"


@pytest.fixture
async def team(api: Api, alice: User, bob: User, org: dict[str, Any]) -> dict[str, Any]:
    await api.add_member(alice, org, bob, "member")
    return org


async def test_org_requiring_2fa_refuses_members_without_it(alice: User, bob: User, team: dict[str, Any]) -> None:
    path = f"/api/v1/orgs/{team['slug']}"
    assert (await bob.get(path)).status == 200  # cached as allowed before the setting changes
    await enable_2fa(alice)
    turned_on = await alice.patch(path, json={"require_2fa": True})
    assert turned_on.status == 200 and turned_on.json["require_2fa"] is True
    refused = await bob.get(path + "/members")
    assert refused.status == 403
    assert refused.json["error"]["code"] == "2fa_required"
    assert (await alice.get(path + "/members")).status == 200
    await enable_2fa(bob)
    assert (await bob.get(path + "/members")).status == 200


async def test_sockets_of_members_without_2fa_get_no_org_scope(
    app: Quart, alice: User, bob: User, team: dict[str, Any]
) -> None:
    await enable_2fa(alice)
    assert (await alice.patch(f"/api/v1/orgs/{team['slug']}", json={"require_2fa": True})).status == 200
    async with app.app_context():  # what realtime's org:join asks
        assert await select_membership(team["slug"], bob.id) is None
        scope = await select_membership(team["slug"], alice.id)
        assert scope is not None and scope.role == "owner"


async def test_totp_secret_is_stored_encrypted(alice: User, app: Quart, make_app: Any) -> None:
    secret, codes = await enable_2fa(alice)
    stored = await app.extensions["db"].fetch_val("SELECT totp_secret FROM users WHERE id = :id", {"id": alice.id})
    assert stored.startswith("v1:") and secret not in stored
    # another SECRET_KEY cannot open it: TOTP codes fail, the hashed recovery codes still let the user in
    rekeyed = Api(await make_app(secret_key="another-secret-key"))
    token = (await login(rekeyed, alice.email)).json["mfa_token"]
    totp_code = await rekeyed.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": code(secret)})
    assert totp_code.status == 401 and totp_code.json["error"]["code"] == "invalid_code"
    recovered = await rekeyed.request("POST", "/api/v1/auth/mfa", json={"mfa_token": token, "code": codes[0]})
    assert recovered.status == 200
