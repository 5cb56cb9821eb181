"""OpenID Connect sign-in end to end against a real (local) provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from databases import Database
from quart import Quart

from crm.auth import onetime
from crm.config import Config
from tests.auth.support import session_cookie
from tests.helpers import Api, Response, User
from tests.oidc_provider import OidcProvider, _new_key

PROVIDER = "testidp"


@pytest.fixture
async def provider(config: Config, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OidcProvider]:
    idp = await OidcProvider(client_id="tinycrm-client", client_secret="s3cret-value").start()
    monkeypatch.setattr(config, "oidc_issuer", idp.issuer)
    monkeypatch.setattr(config, "oidc_client_id", idp.client_id)
    monkeypatch.setattr(config, "oidc_client_secret", idp.client_secret)
    monkeypatch.setattr(config, "oidc_name", PROVIDER)
    yield idp
    await idp.stop()


async def start(api: Api) -> str:
    """Begin a sign-in; the provider's authorization URL we are sent to."""
    response = await api.request("GET", f"/api/v1/auth/oauth/{PROVIDER}/start")
    assert response.status == 302, response.json
    return str(response.headers["Location"])


async def authorize(url: str) -> str:
    """The browser at the provider: it redirects back with code and state; the callback path."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(url)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == "http://localhost"
    return f"{location.path}?{location.query}"


async def sign_in_with_provider(api: Api) -> tuple[str, Response]:
    callback = await authorize(await start(api))
    return callback, await api.request("GET", callback)


async def test_new_user_signs_in_with_the_provider(app: Quart, api: Api, provider: OidcProvider) -> None:
    _, response = await sign_in_with_provider(api)
    assert response.status == 302, response.json
    assert response.headers["Location"] == "http://localhost/"
    cookie = session_cookie(response)
    me = await api.request("GET", "/api/v1/me", headers={"Cookie": cookie})
    assert me.status == 200
    assert me.json["email"] == "olivia@example.com"
    assert me.json["name"] == "Olivia Open"
    assert me.json["email_verified"] is True
    db: Database = app.extensions["db"]
    identity = await db.fetch_one("SELECT issuer, subject, user_id FROM oauth_identities")
    assert identity is not None
    assert (identity["issuer"], identity["subject"], identity["user_id"]) == (
        provider.issuer,
        "subject-1",
        me.json["id"],
    )
    # a second sign-in finds the same user by (issuer, subject), even with a changed email
    provider.user = {**provider.user, "email": "olivia.new@example.com"}
    _, again = await sign_in_with_provider(api)
    me_again = await api.request("GET", "/api/v1/me", headers={"Cookie": session_cookie(again)})
    assert me_again.json["id"] == me.json["id"]


async def test_start_sends_state_nonce_and_pkce_and_keeps_them_ten_minutes(
    api: Api, provider: OidcProvider, rds: aioredis.Redis
) -> None:
    url = urlsplit(await start(api))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.issuer}/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "tinycrm-client"
    assert query["redirect_uri"] == f"http://localhost/api/v1/auth/oauth/{PROVIDER}/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert "openid" in query["scope"].split()
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    key = onetime.token_key("oauth", onetime.token_hash(query["state"]))
    assert 0 < await rds.ttl(key) <= 600
    assert query["state"].encode() not in await rds.get(key)  # only the hash names the key


async def test_replayed_or_unknown_state_is_refused(api: Api, provider: OidcProvider) -> None:
    callback, first = await sign_in_with_provider(api)
    assert first.status == 302
    replay = await api.request("GET", callback)
    assert replay.status == 400
    assert replay.json["error"]["code"] == "invalid_oauth_state"
    unknown = await api.request("GET", f"/api/v1/auth/oauth/{PROVIDER}/callback?state=made-up&code=abc")
    assert unknown.status == 400 and unknown.json["error"]["code"] == "invalid_oauth_state"
    missing = await api.request("GET", f"/api/v1/auth/oauth/{PROVIDER}/callback?code=abc")
    assert missing.status == 400 and missing.json["error"]["code"] == "invalid_oauth_state"


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("nonce_override", "a-nonce-from-another-attempt"),
        ("audience_override", "some-other-client"),
        ("signing_key_override", "other-key"),
    ],
)
async def test_bad_id_tokens_sign_nobody_in(
    app: Quart, api: Api, provider: OidcProvider, knob: str, value: str
) -> None:
    setattr(provider, knob, _new_key() if value == "other-key" else value)
    _, response = await sign_in_with_provider(api)
    assert response.status == 400, response.json
    assert response.json["error"]["code"] == "invalid_id_token"
    assert "Set-Cookie" not in response.headers or "tc_session=" not in response.headers.get("Set-Cookie", "")
    db: Database = app.extensions["db"]
    assert await db.fetch_val("SELECT count(*) FROM users") == 0
    assert await db.fetch_val("SELECT count(*) FROM user_sessions") == 0


async def test_existing_account_is_linked_by_verified_email(api: Api, alice: User, provider: OidcProvider) -> None:
    provider.user = {"sub": "alice-at-idp", "email": "Alice@Example.com", "email_verified": True}
    _, response = await sign_in_with_provider(api)
    assert response.status == 302, response.json
    me = await api.request("GET", "/api/v1/me", headers={"Cookie": session_cookie(response)})
    assert me.json["id"] == alice.id


async def test_unverified_provider_email_neither_links_nor_creates(
    app: Quart, api: Api, alice: User, provider: OidcProvider
) -> None:
    provider.user = {"sub": "sneaky", "email": alice.email, "email_verified": False}
    _, response = await sign_in_with_provider(api)
    assert response.status == 400
    assert response.json["error"]["code"] == "oauth_email_unverified"
    db: Database = app.extensions["db"]
    assert await db.fetch_val("SELECT count(*) FROM oauth_identities") == 0


async def test_provider_error_and_unknown_provider(api: Api, provider: OidcProvider) -> None:
    url = urlsplit(await start(api))
    state = parse_qs(url.query)["state"][0]
    denied = await api.request("GET", f"/api/v1/auth/oauth/{PROVIDER}/callback?state={state}&error=access_denied")
    assert denied.status == 400 and denied.json["error"]["code"] == "oauth_denied"
    unknown = await api.request("GET", "/api/v1/auth/oauth/nosuch/start")
    assert unknown.status == 404 and unknown.json["error"]["code"] == "unknown_provider"


async def test_a_reused_code_is_refused_by_the_provider(api: Api, provider: OidcProvider) -> None:
    url = await start(api)
    callback = await authorize(url)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert (await api.request("GET", callback)).status == 302
    # a fresh state with the already used code: the provider refuses the exchange
    fresh = parse_qs(urlsplit(await start(api)).query)["state"][0]
    response = await api.request("GET", f"/api/v1/auth/oauth/{PROVIDER}/callback?state={fresh}&code={code}")
    assert response.status == 400 and response.json["error"]["code"] == "oauth_code_rejected"


async def test_user_with_two_factor_must_still_answer_the_code(app: Quart, api: Api, provider: OidcProvider) -> None:
    _, first = await sign_in_with_provider(api)
    assert first.status == 302  # the account exists now; then it turns 2FA on
    db: Database = app.extensions["db"]
    await db.execute("UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP', totp_enabled_at = now()")
    sessions_before = await db.fetch_val("SELECT count(*) FROM user_sessions")
    _, response = await sign_in_with_provider(api)
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query)["mfa_token"][0]
    assert "tc_session=" not in response.headers.get("Set-Cookie", "")
    assert await db.fetch_val("SELECT count(*) FROM user_sessions") == sessions_before
