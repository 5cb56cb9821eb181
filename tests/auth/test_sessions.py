"""The session registry: listing, revoking, lifetimes, and revocation across instances."""

from __future__ import annotations

import redis.asyncio as aioredis
from databases import Database
from quart import Quart

from crm import create_app
from crm.auth.sessions import ABSOLUTE_LIFETIME, REGISTRY_TTL, session_key
from crm.config import Config
from tests.auth.support import sign_in
from tests.helpers import Api, User


async def session_ids(api: Api, headers: dict[str, str]) -> list[dict[str, object]]:
    response = await api.request("GET", "/api/v1/auth/sessions", headers=headers)
    assert response.status == 200, response.json
    return list(response.json["items"])


async def test_user_lists_sessions_with_the_current_one_marked(api: Api, alice: User) -> None:
    laptop = await sign_in(api, alice.email, user_agent="Laptop Firefox")
    await sign_in(api, alice.email, user_agent="Phone Safari")
    items = await session_ids(api, laptop.bearer)
    assert len(items) == 3  # the fixture's sign-in, the laptop, the phone
    current = [item for item in items if item["current"]]
    assert len(current) == 1
    assert current[0]["user_agent"] == "Laptop Firefox"
    assert {"id", "created_at", "last_seen_at", "expires_at", "ip", "user_agent"} <= set(current[0])
    assert {item["user_agent"] for item in items} >= {"Laptop Firefox", "Phone Safari"}


async def test_deleting_a_session_signs_out_its_token_and_cookie(api: Api, alice: User) -> None:
    stolen = await sign_in(api, alice.email, user_agent="Stolen laptop")
    items = await session_ids(api, alice.auth)
    stolen_id = next(item["id"] for item in items if item["user_agent"] == "Stolen laptop")

    response = await alice.delete(f"/api/v1/auth/sessions/{stolen_id}")
    assert response.status == 204

    by_token = await api.request("GET", "/api/v1/me", headers=stolen.bearer)
    by_cookie = await api.request("GET", "/api/v1/me", headers=stolen.cookie_headers)
    assert by_token.status == 401 and by_token.json["error"]["code"] == "not_authenticated"
    assert by_cookie.status == 401
    refreshed = await api.request("POST", "/api/v1/auth/refresh", json={"refresh_token": stolen.refresh_token})
    assert refreshed.status == 401
    assert (await alice.get("/api/v1/me")).status == 200
    assert stolen_id not in [item["id"] for item in await session_ids(api, alice.auth)]


async def test_another_users_session_cannot_be_revoked(api: Api, alice: User, bob: User) -> None:
    bobs = await session_ids(api, bob.auth)
    response = await alice.delete(f"/api/v1/auth/sessions/{bobs[0]['id']}")
    assert response.status == 404
    assert response.json["error"]["code"] == "session_not_found"
    assert (await bob.get("/api/v1/me")).status == 200
    unknown = await alice.delete("/api/v1/auth/sessions/no-such-session")
    assert unknown.status == 404


async def test_sign_out_everywhere_else_keeps_only_the_current_session(api: Api, alice: User) -> None:
    others = [await sign_in(api, alice.email, user_agent=f"device {n}") for n in range(3)]
    response = await alice.post("/api/v1/auth/sessions/revoke-others")
    assert response.status == 200
    assert response.json == {"revoked": 3}
    for other in others:
        assert (await api.request("GET", "/api/v1/me", headers=other.bearer)).status == 401
        assert (await api.request("GET", "/api/v1/me", headers=other.cookie_headers)).status == 401
    items = await session_ids(api, alice.auth)
    assert len(items) == 1 and items[0]["current"] is True


async def test_cookie_session_can_list_and_revoke_with_same_origin(api: Api, alice: User) -> None:
    browser = await sign_in(api, alice.email, user_agent="Browser")
    items = await session_ids(api, {"Cookie": browser.cookie})
    assert next(item for item in items if item["current"])["user_agent"] == "Browser"
    cross_site = await api.request(
        "POST", "/api/v1/auth/sessions/revoke-others", headers={"Cookie": browser.cookie, "Origin": "https://evil.test"}
    )
    assert cross_site.status == 403
    assert (await alice.get("/api/v1/me")).status == 200


async def test_registry_entry_has_a_bounded_ttl(api: Api, alice: User, rds: aioredis.Redis) -> None:
    items = await session_ids(api, alice.auth)
    ttl = await rds.ttl(session_key(str(items[0]["id"])))
    assert 0 < ttl <= REGISTRY_TTL
    created, expires = items[0]["created_at"], items[0]["expires_at"]
    assert isinstance(created, str) and isinstance(expires, str)


async def test_idle_session_expires_even_without_redis_entry(
    app: Quart, api: Api, alice: User, rds: aioredis.Redis
) -> None:
    idle = await sign_in(api, alice.email)
    db: Database = app.extensions["db"]
    await db.execute(
        "UPDATE user_sessions SET last_seen_at = now() - make_interval(secs => idle_ttl + 5)"
        " WHERE user_id = :id AND user_agent = 'pytest'",
        {"id": alice.id},
    )
    await rds.flushdb()  # force the registry to be rebuilt from PostgreSQL
    assert (await api.request("GET", "/api/v1/me", headers=idle.bearer)).status == 401
    assert (await alice.get("/api/v1/me")).status == 200


async def test_session_dies_at_its_absolute_lifetime_even_when_in_use(
    app: Quart, api: Api, alice: User, rds: aioredis.Redis
) -> None:
    db: Database = app.extensions["db"]
    lifetime = await db.fetch_val(
        "SELECT extract(epoch FROM expires_at - created_at) FROM user_sessions WHERE user_id = :id", {"id": alice.id}
    )
    assert abs(float(lifetime) - ABSOLUTE_LIFETIME) < 5
    await db.execute(
        "UPDATE user_sessions SET created_at = now() - interval '31 days', expires_at = now() - interval '1 day',"
        " last_seen_at = now() WHERE user_id = :id",
        {"id": alice.id},
    )
    await rds.flushdb()
    assert (await alice.get("/api/v1/me")).status == 401


async def test_session_revoked_on_one_instance_is_refused_by_the_other(api: Api, alice: User, config: Config) -> None:
    other_app = create_app(config)
    async with other_app.test_app():
        other = Api(other_app)
        phone = await sign_in(api, alice.email, user_agent="Phone")
        # the second instance accepts the session first, by token and by cookie
        assert (await other.request("GET", "/api/v1/me", headers=phone.bearer)).status == 200
        assert (await other.request("GET", "/api/v1/me", headers={"Cookie": phone.cookie})).status == 200

        phone_id = next(item["id"] for item in await session_ids(api, phone.bearer) if item["current"])
        revoked = await alice.delete(f"/api/v1/auth/sessions/{phone_id}")
        assert revoked.status == 204

        by_token = await other.request("GET", "/api/v1/me", headers=phone.bearer)
        by_cookie = await other.request("GET", "/api/v1/me", headers={"Cookie": phone.cookie})
        assert by_token.status == 401 and by_token.json["error"]["code"] == "not_authenticated"
        assert by_cookie.status == 401 and by_cookie.json["error"]["code"] == "not_authenticated"
        # and the other way round: logout through the second instance ends it on the first
        laptop = await sign_in(other, alice.email, user_agent="Laptop")
        assert (await api.request("GET", "/api/v1/me", headers=laptop.bearer)).status == 200
        assert (await other.request("POST", "/api/v1/auth/logout", headers=laptop.bearer)).status == 204
        assert (await api.request("GET", "/api/v1/me", headers=laptop.bearer)).status == 401
        assert (await api.request("GET", "/api/v1/me", headers={"Cookie": laptop.cookie})).status == 401


async def test_revocation_made_while_a_reader_refills_the_registry_still_holds(
    app: Quart, api: Api, alice: User, rds: aioredis.Redis
) -> None:
    tablet = await sign_in(api, alice.email, user_agent="Tablet")
    tablet_id = next(item["id"] for item in await session_ids(api, tablet.bearer) if item["current"])
    assert (await alice.delete(f"/api/v1/auth/sessions/{tablet_id}")).status == 204
    # a reader that loaded the session from PostgreSQL before the revocation writes it back late
    await rds.hset(session_key(tablet_id), mapping={"user_id": str(alice.id), "created": "0", "last_seen": "0"})
    assert (await api.request("GET", "/api/v1/me", headers=tablet.bearer)).status == 401
