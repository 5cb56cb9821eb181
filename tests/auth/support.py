"""Helpers for the auth tests: full sign-in results, cookies, the dev mailbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from quart import Quart

from tests.helpers import PASSWORD, Api, Response

ORIGIN = {"Origin": "http://localhost"}


@dataclass
class SignedIn:
    access_token: str
    refresh_token: str
    cookie: str  # "tc_session=..." for a Cookie header
    expires_in: int

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def cookie_headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie, **ORIGIN}


def session_cookie(response: Response) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("tc_session="):
            return header.split(";", 1)[0]
    raise AssertionError("no session cookie was set")


async def sign_in(api: Api, email: str, password: str = PASSWORD, user_agent: str = "pytest") -> SignedIn:
    response = await api.request(
        "POST",
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"User-Agent": user_agent},
    )
    assert response.status == 200, response.json
    body = response.json
    assert body["token_type"] == "Bearer"
    return SignedIn(body["access_token"], body["refresh_token"], session_cookie(response), body["expires_in"])


async def drain_background(app: Quart) -> None:
    """Wait (bounded) for the app's background tasks, e.g. mail sent after a 202, and for
    the tasks those start in turn."""

    async def drain() -> None:
        while app.background_tasks:
            await asyncio.gather(*app.background_tasks)

    await asyncio.wait_for(drain(), timeout=10)


async def mailbox(api: Api, to: str) -> list[dict[str, Any]]:
    response = await api.request("GET", f"/dev/mailbox.json?to={to}")
    assert response.status == 200, response.json
    return list(response.json["items"])


def link_token(message: dict[str, Any], path: str) -> str:
    """The `token` of the first link to `path` in a mail."""
    for link in message["links"]:
        parts = urlsplit(link)
        if parts.path == path:
            return parse_qs(parts.query)["token"][0]
    raise AssertionError(f"no {path} link in {message['text']!r}")
