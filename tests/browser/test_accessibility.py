"""axe-core on every page: no serious or critical violations, signed out, signed in, light and dark.

axe is injected from the committed bundle (frontend/static/dist/axe.min.js); the contexts bypass
the Content-Security-Policy only so that the injected script may run.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PASSWORD
from tests.realtime.conftest import Instance

AXE = Path(__file__).resolve().parents[2] / "frontend" / "static" / "dist" / "axe.min.js"
SERIOUS = ("serious", "critical")

RUN_AXE = """async (impacts) => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""


@dataclass
class World:
    context: BrowserContext
    signed_out: BrowserContext
    slug: str
    ids: dict[str, int]


async def _call(context: BrowserContext, server: Instance, method: str, path: str, data: Any = None) -> Any:
    response = await context.request.fetch(path, method=method, data=data, headers={"Origin": server.url})
    assert response.status < 300, f"{method} {path}: {response.status} {await response.text()}"
    return await response.json() if response.status != 204 else None


@pytest.fixture
async def world(browser: Browser, server: Instance) -> AsyncIterator[World]:
    """One signed-in user with an org holding one of everything, and a signed-out context."""
    options: dict[str, Any] = {"base_url": server.url, "bypass_csp": True, "viewport": {"width": 1280, "height": 860}}
    context, signed_out, teammate = [await browser.new_context(**options) for _ in range(3)]
    emails = [f"axe-{secrets.token_hex(3)}@example.com" for _ in range(2)]
    for ctx, email, name in ((context, emails[0], "Ada Axe"), (teammate, emails[1], "Tim Teammate")):
        await _call(ctx, server, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD, "name": name})
        await _call(ctx, server, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    org = await _call(context, server, "POST", "/api/v1/orgs", {"name": "Axe Audit"})
    slug = org["slug"]
    await _call(context, server, "POST", f"/api/v1/orgs/{slug}/members", {"email": emails[1], "role": "member"})
    company = await _call(context, server, "POST", f"/api/v1/orgs/{slug}/companies", {"name": "Globex"})
    contact = await _call(
        context,
        server,
        "POST",
        f"/api/v1/orgs/{slug}/contacts",
        {"first_name": "Gina", "last_name": "Gold", "email": "gina@example.com", "company_id": company["id"]},
    )
    deal = await _call(
        context,
        server,
        "POST",
        f"/api/v1/orgs/{slug}/deals",
        {"title": "Globex rollout", "amount": 250000, "company_id": company["id"], "contact_id": contact["id"]},
    )
    channel = await _call(context, server, "POST", f"/api/v1/orgs/{slug}/channels", {"name": "general"})
    await _call(
        teammate,
        server,
        "POST",
        f"/api/v1/orgs/{slug}/channels/{channel['id']}/messages",
        {"body": f"@{emails[0].split('@')[0]} the Globex deck is ready"},
    )
    await _call(context, server, "POST", f"/api/v1/orgs/{slug}/invitations", {"email": "new@example.com"})
    ids = {"deal": deal["id"], "contact": contact["id"], "company": company["id"], "channel": channel["id"]}
    yield World(context, signed_out, slug, ids)
    for ctx in (context, signed_out, teammate):
        await ctx.close()


def signed_in_pages(world: World) -> dict[str, str]:
    base = f"/o/{world.slug}"
    return {
        "welcome": "/welcome",
        "board": f"{base}/board",
        "deal": f"{base}/deals/{world.ids['deal']}",
        "deals list": f"{base}/deals",
        "contacts": f"{base}/contacts",
        "companies": f"{base}/companies",
        "contact": f"{base}/contacts/{world.ids['contact']}",
        "company": f"{base}/companies/{world.ids['company']}",
        "dashboard": f"{base}/dashboard",
        "chat": f"{base}/chat/{world.ids['channel']}",
        "inbox": f"{base}/inbox",
        "settings": f"{base}/settings",
        "account": "/account",
        "not found": f"{base}/deals/999999999",
    }


SIGNED_OUT_PAGES = {
    "login": "/login",
    "signup": "/signup",
    "forgot password": "/forgot-password",
    "reset password": "/reset-password?token=abc",
    "verify email": "/verify-email?token=abc",
    "invitation": "/invite?token=abc",
    "404": "/no-such-page",
}


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    await page.add_script_tag(path=str(AXE))
    return list(await page.evaluate(RUN_AXE, list(SERIOUS)))


async def audit(context: BrowserContext, path: str, theme: str) -> list[dict[str, Any]]:
    page = await context.new_page()
    try:
        await page.add_init_script(f"localStorage.setItem('tinycrm.theme', '{theme}')")
        await page.goto(path)
        await expect(page.locator("main")).to_be_visible()
        await page.wait_for_load_state("networkidle")
        return await serious_violations(page)
    finally:
        await page.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_every_page_has_no_serious_accessibility_violations(world: World, theme: str) -> None:
    found = {name: await audit(world.signed_out, path, theme) for name, path in SIGNED_OUT_PAGES.items()}
    for name, path in signed_in_pages(world).items():
        found[name] = await audit(world.context, path, theme)
    problems = [f"{name}: {v['id']} ({v['help']}) at {v['nodes']}" for name, vs in found.items() for v in vs]
    assert not problems, "\n".join(problems)
