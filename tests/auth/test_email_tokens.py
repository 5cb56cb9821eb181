"""Email verification and password reset: single-use tokens in Redis, the dev mailbox."""

from __future__ import annotations

import redis.asyncio as aioredis
from quart import Quart

from crm.auth import onetime
from crm.mail import mailer
from tests.auth.support import drain_background, link_token, mailbox, sign_in
from tests.helpers import PASSWORD, Api, User


async def ttl_of(rds: aioredis.Redis, purpose: str, token: str) -> int:
    return int(await rds.ttl(onetime.token_key(purpose, onetime.token_hash(token))))


async def test_sign_up_mails_a_verification_link_that_works_once(api: Api, alice: User, rds: aioredis.Redis) -> None:
    mails = await mailbox(api, alice.email)
    assert len(mails) == 1 and "Confirm your email" in mails[0]["subject"]
    assert mails[0]["links"][0].startswith("http://localhost/verify-email?token=")
    token = link_token(mails[0], "/verify-email")
    assert 23 * 3600 < await ttl_of(rds, "verify", token) <= 24 * 3600

    assert (await alice.get("/api/v1/me")).json["email_verified"] is False
    verified = await api.request("POST", "/api/v1/auth/verify-email", json={"token": token})
    assert verified.status == 200 and verified.json["email_verified"] is True
    assert (await alice.get("/api/v1/me")).json["email_verified"] is True
    assert await ttl_of(rds, "verify", token) == -2  # consumed: the key is gone

    again = await api.request("POST", "/api/v1/auth/verify-email", json={"token": token})
    assert again.status == 400 and again.json["error"]["code"] == "invalid_token"


async def test_tampered_and_unknown_verification_tokens_are_refused(api: Api, alice: User) -> None:
    token = link_token((await mailbox(api, alice.email))[0], "/verify-email")
    for bad in (token[:-1] + ("A" if token[-1] != "A" else "B"), "nope", "x" * 128):
        response = await api.request("POST", "/api/v1/auth/verify-email", json={"token": bad})
        assert response.status == 400
        assert response.json["error"]["code"] == "invalid_token"
    # the real one still works: failed guesses do not burn it
    assert (await api.request("POST", "/api/v1/auth/verify-email", json={"token": token})).status == 200


async def test_resend_needs_a_signed_in_unverified_user(api: Api, alice: User) -> None:
    anonymous = await api.request("POST", "/api/v1/auth/verify-email/resend")
    assert anonymous.status == 401
    assert (await alice.post("/api/v1/auth/verify-email/resend")).status == 202
    mails = await mailbox(api, alice.email)
    assert len(mails) == 2
    newest = link_token(mails[0], "/verify-email")
    assert (await api.request("POST", "/api/v1/auth/verify-email", json={"token": newest})).status == 200
    already = await alice.post("/api/v1/auth/verify-email/resend")
    assert already.status == 409 and already.json["error"]["code"] == "already_verified"


async def test_password_reset_answers_202_for_known_and_unknown_addresses(
    app: Quart, api: Api, alice: User, rds: aioredis.Redis
) -> None:
    known = await api.request("POST", "/api/v1/auth/password-reset", json={"email": "ALICE@example.com"})
    unknown = await api.request("POST", "/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status == unknown.status == 202
    assert known.json == unknown.json
    await drain_background(app)
    assert await mailbox(api, "nobody@example.com") == []
    resets = [m for m in await mailbox(api, alice.email) if "Reset" in m["subject"]]
    assert len(resets) == 1
    token = link_token(resets[0], "/reset-password")
    assert 3500 < await ttl_of(rds, "reset", token) <= 3600


async def test_password_reset_sets_the_password_and_signs_out_everywhere(app: Quart, api: Api, alice: User) -> None:
    other_device = await sign_in(api, alice.email)
    await api.request("POST", "/api/v1/auth/password-reset", json={"email": alice.email})
    await drain_background(app)
    token = link_token(next(m for m in await mailbox(api, alice.email) if "Reset" in m["subject"]), "/reset-password")

    confirmed = await api.request(
        "POST", "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a brand new secret"}
    )
    assert confirmed.status == 204
    for headers in (alice.auth, other_device.bearer, {"Cookie": other_device.cookie}):
        assert (await api.request("GET", "/api/v1/me", headers=headers)).status == 401
    refreshed = await api.request("POST", "/api/v1/auth/refresh", json={"refresh_token": other_device.refresh_token})
    assert refreshed.status == 401

    old = await api.request("POST", "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert old.status == 401
    new = await sign_in(api, alice.email, "a brand new secret")
    me = await api.request("GET", "/api/v1/me", headers=new.bearer)
    assert me.json["email_verified"] is True  # the link proved the address

    replay = await api.request(
        "POST", "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "yet another secret"}
    )
    assert replay.status == 400 and replay.json["error"]["code"] == "invalid_token"


async def test_password_reset_confirm_validates_the_new_password(app: Quart, api: Api, alice: User) -> None:
    await api.request("POST", "/api/v1/auth/password-reset", json={"email": alice.email})
    await drain_background(app)
    token = link_token(next(m for m in await mailbox(api, alice.email) if "Reset" in m["subject"]), "/reset-password")
    short = await api.request("POST", "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert short.status == 422 and "password" in short.json["error"]["fields"]
    # a refused request does not use the token up
    ok = await api.request(
        "POST", "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "long enough now"}
    )
    assert ok.status == 204


async def test_dev_mailbox_page_escapes_what_users_typed(app: Quart, api: Api) -> None:
    created = await api.request(
        "POST",
        "/api/v1/auth/register",
        json={"email": "mallory@example.com", "password": PASSWORD, "name": "<script>alert(1)</script>"},
    )
    assert created.status == 201
    page = await app.test_client().get("/dev/mailbox")
    html = (await page.get_data()).decode()
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


async def test_dev_mailbox_is_capped(app: Quart, api: Api, rds: aioredis.Redis) -> None:
    async with app.app_context():
        for n in range(mailer.DEVMAIL_CAP + 5):
            await mailer.store_devmail(
                app.extensions["redis"], mailer.Message(to="x@example.com", subject=str(n), text="")
            )
    assert await rds.llen(mailer.DEVMAIL_KEY) == mailer.DEVMAIL_CAP
    newest = (await mailbox(api, "x@example.com"))[0]
    assert newest["subject"] == str(mailer.DEVMAIL_CAP + 4)
