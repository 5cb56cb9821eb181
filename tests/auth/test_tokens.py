"""Access and refresh tokens: rotation, reuse detection, the blacklist, bad tokens."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from databases import Database
from itsdangerous import URLSafeTimedSerializer
from quart import Quart

from crm.auth import refresh, tokens
from crm.config import Config
from tests.auth.support import sign_in
from tests.helpers import Api, User


async def use_refresh(api: Api, token: str):  # type: ignore[no-untyped-def]
    return await api.request("POST", "/api/v1/auth/refresh", json={"refresh_token": token})


async def test_login_returns_access_and_refresh_tokens(api: Api, alice: User) -> None:
    response = await api.request(
        "POST", "/api/v1/auth/login", json={"email": alice.email, "password": "correct horse battery"}
    )
    assert response.status == 200
    assert set(response.json) >= {"access_token", "refresh_token", "token_type", "expires_in"}
    assert response.json["token_type"] == "Bearer"
    assert response.json["expires_in"] == 15 * 60


async def test_refresh_rotates_the_pair_and_keeps_the_session(api: Api, alice: User) -> None:
    first = await sign_in(api, alice.email)
    rotated = await use_refresh(api, first.refresh_token)
    assert rotated.status == 200, rotated.json
    assert rotated.json["refresh_token"] != first.refresh_token
    assert rotated.json["access_token"] != first.access_token
    me = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {rotated.json['access_token']}"})
    assert me.status == 200 and me.json["id"] == alice.id
    again = await use_refresh(api, rotated.json["refresh_token"])
    assert again.status == 200
    # the same session all along: no new sessions appear in the list
    sessions = await api.request("GET", "/api/v1/auth/sessions", headers=first.bearer)
    assert len(sessions.json["items"]) == 2  # the fixture's and this one


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(api: Api, alice: User) -> None:
    stolen = await sign_in(api, alice.email)
    rotated = await use_refresh(api, stolen.refresh_token)
    assert rotated.status == 200

    reused = await use_refresh(api, stolen.refresh_token)
    assert reused.status == 401
    assert reused.json["error"]["code"] == "refresh_token_reused"
    # everything that belonged to the session is dead: old and new access tokens, the new refresh token, the cookie
    new_access = {"Authorization": f"Bearer {rotated.json['access_token']}"}
    assert (await api.request("GET", "/api/v1/me", headers=new_access)).status == 401
    assert (await api.request("GET", "/api/v1/me", headers=stolen.bearer)).status == 401
    assert (await api.request("GET", "/api/v1/me", headers={"Cookie": stolen.cookie})).status == 401
    assert (await use_refresh(api, rotated.json["refresh_token"])).status == 401
    assert (await alice.get("/api/v1/me")).status == 200  # other sessions are untouched


async def test_reuse_is_detected_from_postgresql_after_redis_lost_everything(
    api: Api, alice: User, rds: aioredis.Redis
) -> None:
    signed = await sign_in(api, alice.email)
    assert (await use_refresh(api, signed.refresh_token)).status == 200
    await rds.flushdb()
    reused = await use_refresh(api, signed.refresh_token)
    assert reused.status == 401 and reused.json["error"]["code"] == "refresh_token_reused"


async def test_refresh_tokens_survive_a_redis_restart(api: Api, alice: User, rds: aioredis.Redis) -> None:
    signed = await sign_in(api, alice.email)
    await rds.flushdb()
    rotated = await use_refresh(api, signed.refresh_token)
    assert rotated.status == 200, rotated.json


async def test_concurrent_uses_of_one_refresh_token_admit_exactly_one(api: Api, alice: User) -> None:
    signed = await sign_in(api, alice.email)
    results = await asyncio.gather(*[use_refresh(api, signed.refresh_token) for _ in range(5)])
    statuses = sorted(r.status for r in results)
    assert statuses.count(200) == 1
    assert all(r.json["error"]["code"] == "refresh_token_reused" for r in results if r.status == 401)


async def test_refresh_token_is_stored_hashed_with_its_ttl(
    app: Quart, api: Api, alice: User, rds: aioredis.Redis
) -> None:
    signed = await sign_in(api, alice.email)
    digest = refresh.token_hash(signed.refresh_token)
    ttl = await rds.ttl(refresh.refresh_key(digest))
    assert 29 * 24 * 3600 < ttl <= 30 * 24 * 3600
    db: Database = app.extensions["db"]
    stored = await db.fetch_all("SELECT hash FROM refresh_tokens WHERE user_id = :id", {"id": alice.id})
    hashes = {row["hash"] for row in stored}
    assert digest in hashes
    assert signed.refresh_token not in hashes
    keys = [key.decode() async for key in rds.scan_iter("tc:rt:*")]
    assert all(signed.refresh_token not in key for key in keys)


async def test_expired_unknown_and_malformed_refresh_tokens_are_refused(
    app: Quart, api: Api, alice: User, rds: aioredis.Redis
) -> None:
    signed = await sign_in(api, alice.email)
    db: Database = app.extensions["db"]
    await db.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
    await rds.delete(refresh.refresh_key(refresh.token_hash(signed.refresh_token)))
    expired = await use_refresh(api, signed.refresh_token)
    assert expired.status == 401 and expired.json["error"]["code"] == "invalid_refresh_token"
    for bad in ("not-a-token", signed.refresh_token[:-2] + "xx", "x" * 256):
        response = await use_refresh(api, bad)
        assert response.status == 401
        assert response.json["error"]["code"] == "invalid_refresh_token"
    missing = await api.request("POST", "/api/v1/auth/refresh", json={})
    assert missing.status == 422


async def test_logout_blacklists_the_access_token_until_it_expires(api: Api, alice: User, rds: aioredis.Redis) -> None:
    signed = await sign_in(api, alice.email)
    claims = tokens.read_access_token(api.app.secret_key, signed.access_token)  # type: ignore[arg-type]
    assert claims is not None
    assert (await api.request("POST", "/api/v1/auth/logout", headers=signed.bearer)).status == 204
    ttl = await rds.ttl(tokens.blacklist_key(claims.jti))
    assert 0 < ttl <= 15 * 60 + 1
    response = await api.request("GET", "/api/v1/me", headers=signed.bearer)
    assert response.status == 401
    assert response.json == {"error": {"code": "not_authenticated", "message": "Sign in to continue."}}
    assert (await use_refresh(api, signed.refresh_token)).status == 401


async def test_blacklist_alone_refuses_a_token_whose_session_lives(api: Api, alice: User) -> None:
    claims = tokens.read_access_token(api.app.secret_key, alice.token)  # type: ignore[arg-type]
    assert claims is not None
    async with api.app.app_context():
        await tokens.blacklist(api.app.extensions["redis"], claims)
    assert (await alice.get("/api/v1/me")).status == 401


async def test_expired_tampered_and_foreign_access_tokens_get_401(api: Api, alice: User, config: Config) -> None:
    claims = tokens.read_access_token(config.secret_key, alice.token)
    assert claims is not None
    expired, _ = tokens.issue_access_token(config.secret_key, user_id=alice.id, session_id=claims.session_id, ttl=-1)
    foreign, _ = tokens.issue_access_token(
        "another-deployments-secret", user_id=alice.id, session_id=claims.session_id, ttl=900
    )
    payload = {"sub": 999, "sid": claims.session_id, "jti": "x", "ttl": 900}
    forged = URLSafeTimedSerializer("guess", salt=tokens.SALT).dumps(payload)
    tampered = alice.token[:-3] + ("aaa" if not alice.token.endswith("aaa") else "bbb")
    for bad in (expired, foreign, forged, tampered, "garbage", "x" * 5000):
        response = await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status == 401, bad
        assert response.json["error"]["code"] == "not_authenticated"
    assert claims.expires_at > time.time()


async def test_token_for_a_session_of_another_user_is_refused(api: Api, alice: User, bob: User, config: Config) -> None:
    bobs = tokens.read_access_token(config.secret_key, bob.token)
    assert bobs is not None
    # correctly signed, but naming Bob's session with Alice's id
    mixed, _ = tokens.issue_access_token(config.secret_key, user_id=alice.id, session_id=bobs.session_id, ttl=900)
    assert (await api.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {mixed}"})).status == 401
