"""With Redis unreachable, sign-up and sign-in still work from PostgreSQL; token flows say 503."""

from __future__ import annotations

import dataclasses
import socket

from crm import create_app
from crm.config import Config
from tests.auth.support import sign_in
from tests.helpers import PASSWORD, Api


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_accounts_and_sessions_work_while_redis_is_down(config: Config, database_url: str) -> None:
    dead = dataclasses.replace(config, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    app = create_app(dead)
    async with app.test_app():
        api = Api(app)
        created = await api.request(
            "POST", "/api/v1/auth/register", json={"email": "rita@example.com", "password": PASSWORD, "name": "Rita"}
        )
        assert created.status == 201, created.json  # the verification mail can be asked for again later
        signed = await sign_in(api, "rita@example.com")
        assert (await api.request("GET", "/api/v1/me", headers=signed.bearer)).status == 200
        rotated = await api.request("POST", "/api/v1/auth/refresh", json={"refresh_token": signed.refresh_token})
        assert rotated.status == 200, rotated.json  # PostgreSQL's copy answers
        reused = await api.request("POST", "/api/v1/auth/refresh", json={"refresh_token": signed.refresh_token})
        assert reused.status == 401 and reused.json["error"]["code"] == "refresh_token_reused"
        verify = await api.request("POST", "/api/v1/auth/verify-email", json={"token": "x" * 43})
        assert verify.status == 503 and verify.json["error"]["code"] == "service_unavailable"
