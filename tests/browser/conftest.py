"""Browser tests: Playwright driving Debian's Chromium against a real uvicorn instance.

The server shares the test database and Redis; BASE_URL is the instance's own
origin so the CSRF Origin check and socket.io's allowed origins accept the browser.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from crm.config import Config
from tests.realtime.conftest import Instance, instance_env

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"

# expect() polls its condition until this deadline; Playwright's 5 s default is too short
# for a page, its socket and a uvicorn instance sharing two busy cores with the other worker
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
async def server(config: Config) -> AsyncIterator[Instance]:
    assert config.database_url and config.redis_url
    env = instance_env(config.database_url, config.redis_url, f"tinycrm-br-{secrets.token_hex(4)}", config.secret_key)
    instance = Instance(env, "browser")
    instance.env = {**env, "BASE_URL": instance.url}
    await instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@dataclass
class BrowserUser:
    context: BrowserContext
    page: Page
    email: str
    name: str
    id: int


@pytest.fixture
async def make_user(browser: Browser, server: Instance) -> AsyncIterator[Any]:
    """Sign up a user through the API and sign them in in a fresh browser context."""
    contexts: list[BrowserContext] = []

    async def make(name: str, email: str | None = None) -> BrowserUser:
        email = email or f"{name.split()[0].lower()}-{secrets.token_hex(3)}@example.com"
        context = await browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 900})
        contexts.append(context)
        headers = {"Origin": server.url}
        created = await context.request.post(
            "/api/v1/auth/register", data={"email": email, "password": PASSWORD, "name": name}, headers=headers
        )
        assert created.status == 201, await created.text()
        signed_in = await context.request.post(
            "/api/v1/auth/login", data={"email": email, "password": PASSWORD}, headers=headers
        )
        assert signed_in.status == 200, await signed_in.text()
        page = await context.new_page()
        return BrowserUser(context, page, email, name, (await created.json())["id"])

    yield make
    for context in contexts:
        await context.close()


async def api_call(user: BrowserUser, server: Instance, method: str, path: str, data: Any = None) -> tuple[int, Any]:
    response = await user.context.request.fetch(path, method=method, data=data, headers={"Origin": server.url})
    body = None
    if response.headers.get("content-type", "").startswith("application/json"):
        body = await response.json()
    return response.status, body
