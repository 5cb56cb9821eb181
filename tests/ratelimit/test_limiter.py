from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from quart import Quart

from crm.config import Config
from crm.ratelimit import Policy, group_of_view, hit, rate_limit
from crm.redis import RedisHub
from tests.helpers import PASSWORD, Api, User
from tests.ratelimit.conftest import warm_redis_pool

POLICY = re.compile(r'^"(?P<name>[a-z-]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')
STATE = re.compile(r'^"(?P<name>[a-z-]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')
UNTRUSTED = {"client": ("10.9.9.9", 40000)}  # limited_app trusts only 127.0.0.1/32 as a proxy


def proxied(ip: str) -> dict[str, Any]:
    """Request options for a client at `ip` behind the app's trusted proxy."""
    return {"scope_base": {"client": ("127.0.0.1", 40000)}, "headers": {"X-Forwarded-For": ip}}


def url_for_rule(rule: Any) -> str:
    """The rule's path with every variable filled in (ids as 1, anything else as 'x')."""

    def value(match: re.Match[str]) -> str:
        converter = rule._converters[match.group(2)]
        return "1" if type(converter).__name__ == "IdConverter" else "x"

    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", value, rule.rule)


async def test_every_route_is_rate_limited(make_app: Any, reset_limits: Callable[[], Awaitable[None]]) -> None:
    app = await make_app(rate_limits={group: (2, 60) for group in ("read", "write", "search", "auth")})
    client = Api(app)
    checked, failures = 0, []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static") or rule.websocket:
            continue
        path = url_for_rule(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            await reset_limits()
            responses = [await client.request(method, path, json={}) for _ in range(3)]
            checked += 1
            first, last = responses[0], responses[-1]
            policy = POLICY.match(first.headers.get("RateLimit-Policy", "").split(",")[0])
            state = STATE.match(first.headers.get("RateLimit", ""))
            if not policy or not state or state["r"] != "1":
                failures.append(f"{method} {rule.rule}: headers {dict(first.headers)}")
            elif last.status != 429 or not last.headers.get("Retry-After", "").isdigit():
                failures.append(f"{method} {rule.rule}: third request answered {last.status}")
            elif path.startswith("/api/") and last.json["error"]["code"] != "rate_limited":
                failures.append(f"{method} {rule.rule}: 429 body {last.json}")
    assert checked > 20
    assert failures == [], "\n".join(failures)


async def test_headers_use_the_ietf_draft_syntax(limited: Api) -> None:
    first = await limited.request("GET", "/healthz")
    second = await limited.request("GET", "/healthz")
    assert first.headers["RateLimit-Policy"] == '"read";q=5;w=60'
    state = STATE.match(first.headers["RateLimit"])
    assert state and state["name"] == "read" and state["r"] == "4"
    assert 1 <= int(state["t"]) <= 60
    assert STATE.match(second.headers["RateLimit"])["r"] == "3"  # type: ignore[index]


async def test_429_carries_retry_after_and_the_error_body(limited: Api) -> None:
    for _ in range(5):
        assert (await limited.request("GET", "/api/v1/me")).status == 401
    refused = await limited.request("GET", "/api/v1/me")
    assert refused.status == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert STATE.match(refused.headers["RateLimit"])["r"] == "0"  # type: ignore[index]


async def test_groups_come_from_the_method_or_the_decorator(
    limited: Api, alice: User, reset_limits: Callable[[], Awaitable[None]]
) -> None:
    await reset_limits()
    headers = alice.auth
    read = await limited.request("GET", "/api/v1/me", headers=headers)
    write = await limited.request("POST", "/api/v1/orgs", headers=headers, json={"name": "Acme"})
    decorated = await limited.request("POST", "/api/v1/auth/2fa/setup", headers=headers)
    assert read.headers["RateLimit-Policy"] == '"read";q=5;w=60'
    assert write.status == 201 and write.headers["RateLimit-Policy"] == '"write";q=5;w=60'
    assert decorated.headers["RateLimit-Policy"] == '"auth";q=3;w=60'
    search = await limited.request("GET", f"/api/v1/orgs/{write.json['slug']}/search?q=acme", headers=headers)
    assert search.status == 200 and search.headers["RateLimit-Policy"] == '"search";q=3;w=60'


def test_decorator_is_found_through_wrapping_decorators() -> None:
    @rate_limit("search")
    async def view() -> None: ...

    @functools.wraps(view)
    async def wrapper() -> None: ...

    assert group_of_view(view) == "search"
    assert group_of_view(wrapper) == "search"
    with pytest.raises(ValueError, match="unknown rate limit group"):
        rate_limit("everything")


async def test_parallel_writes_admit_exactly_the_limit(
    limited: Api, alice: User, reset_limits: Callable[[], Awaitable[None]], app: Quart
) -> None:
    await reset_limits()
    await warm_redis_pool(limited.app, 25)
    responses = await asyncio.gather(
        *[limited.request("POST", "/api/v1/orgs", headers=alice.auth, json={"name": f"Org {i}"}) for i in range(25)]
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] * 5 + [429] * 20
    me = await alice.get("/api/v1/me")  # through the main app: nothing refused was half-made
    assert len(me.json["orgs"]) == 5


async def test_limiter_is_exact_under_concurrency(redis_url: str) -> None:
    hub = RedisHub(redis_url, max_connections=8)  # 100 calls share 8 connections: the pool makes them wait
    try:
        policy = Policy("write", 10, 60)
        caller = f"user:concurrency-{secrets.token_hex(4)}"  # this test does not flush Redis
        decisions = await asyncio.gather(*[hit(hub, policy, caller) for _ in range(100)])
        assert sum(1 for d in decisions if d is not None and d.allowed) == 10
        assert sorted(d.count for d in decisions if d is not None) == list(range(1, 101))
        ttl = await hub.client.pttl(f"tc:rl:write:{caller}")
        assert 0 < ttl <= 60_000
    finally:
        await hub.close()


async def test_each_user_has_their_own_bucket(
    limited: Api, alice: User, bob: User, reset_limits: Callable[[], Awaitable[None]]
) -> None:
    await reset_limits()
    for _ in range(5):
        assert (await limited.request("GET", "/api/v1/me", headers=alice.auth)).status == 200
    assert (await limited.request("GET", "/api/v1/me", headers=alice.auth)).status == 429
    assert (await limited.request("GET", "/api/v1/me", headers=bob.auth)).status == 200
    assert (await limited.request("GET", "/healthz")).status == 200  # anonymous: keyed by address


async def test_clients_behind_a_trusted_proxy_are_told_apart(limited: Api) -> None:
    for _ in range(5):
        assert (await limited.request("GET", "/healthz", **proxied("203.0.113.7"))).status == 200
    assert (await limited.request("GET", "/healthz", **proxied("203.0.113.7"))).status == 429
    assert (await limited.request("GET", "/healthz", **proxied("203.0.113.8"))).status == 200


async def test_untrusted_forwarded_for_is_ignored(limited: Api) -> None:
    spoofing = {"scope_base": UNTRUSTED}
    for n in range(5):
        forged = {"X-Forwarded-For": f"198.51.100.{n}"}
        assert (await limited.request("GET", "/healthz", headers=forged, **spoofing)).status == 200
    forged = {"X-Forwarded-For": "198.51.100.99"}
    assert (await limited.request("GET", "/healthz", headers=forged, **spoofing)).status == 429


async def test_sign_in_is_limited_per_account_across_addresses(
    limited: Api, alice: User, reset_limits: Callable[[], Awaitable[None]]
) -> None:
    await reset_limits()
    body = {"email": "ALICE@example.com", "password": "wrong password"}
    for n in range(3):
        wrong = await limited.request("POST", "/api/v1/auth/login", json=body, **proxied(f"203.0.113.{n}"))
        assert wrong.status == 401
    refused = await limited.request(
        "POST", "/api/v1/auth/login", json={**body, "password": PASSWORD}, **proxied("203.0.113.50")
    )
    assert refused.status == 429
    assert '"auth-account";q=3;w=60' in refused.headers["RateLimit-Policy"]
    other = await limited.request(
        "POST", "/api/v1/auth/login", json={"email": "bob@example.com", "password": "x"}, **proxied("203.0.113.51")
    )
    assert other.status == 401  # another account is not locked by alice's attacker


async def test_sign_in_and_reset_are_limited_per_address(limited: Api) -> None:
    where = proxied("203.0.113.60")
    for n in range(3):
        body = {"email": f"nobody{n}@example.com", "password": "guess"}
        assert (await limited.request("POST", "/api/v1/auth/login", json=body, **where)).status == 401
    reset = await limited.request("POST", "/api/v1/auth/password-reset", json={"email": "x@example.com"}, **where)
    assert reset.status == 429
    assert reset.json["error"]["code"] == "rate_limited"


async def test_redis_down_fails_open_with_a_warning(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = await make_app(redis_url="redis://127.0.0.1:1/0", rate_limits={"read": (2, 60)})
    client = Api(app)
    with caplog.at_level(logging.WARNING, logger="crm.ratelimit.limiter"):
        responses = [await client.request("GET", "/healthz") for _ in range(5)]
    assert [r.status for r in responses] == [200] * 5
    assert responses[-1].headers["RateLimit-Policy"] == '"read";q=2;w=60'
    assert "RateLimit" not in responses[-1].headers  # no count to report
    assert any("failing open" in record.getMessage() for record in caplog.records)


def test_limits_are_configurable_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("TINYCRM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RATE_LIMIT_SEARCH", "7/30")
    monkeypatch.setenv("RATE_LIMIT_AUTH", "9")
    limits = Config.from_env().rate_limits
    assert limits["search"] == (7, 30)
    assert limits["auth"] == (9, 60)
    assert limits["read"] == (600, 60)


async def test_counter_keys_expire_with_their_window(
    limited: Api, redis_client: aioredis.Redis, reset_limits: Callable[[], Awaitable[None]]
) -> None:
    await reset_limits()
    await limited.request("GET", "/healthz")
    keys = [key async for key in redis_client.scan_iter("tc:rl:*")]
    assert len(keys) == 1
    assert 0 < await redis_client.pttl(keys[0]) <= 60_000


async def test_more_parallel_requests_than_redis_connections_still_admit_exactly_the_limit(
    make_app: Any, alice: User, reset_limits: Callable[[], Awaitable[None]]
) -> None:
    app = await make_app(rate_limits={"read": (10, 60)}, redis_pool_max=20)
    client = Api(app)
    await reset_limits()
    await warm_redis_pool(app, 20)
    responses = await asyncio.gather(*[client.request("GET", "/api/v1/me", headers=alice.auth) for _ in range(60)])
    assert sorted(r.status for r in responses) == [200] * 10 + [429] * 50
