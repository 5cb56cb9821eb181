"""python -m bench screenshots: PNGs of the main pages for the README, into docs/screenshots/.

Not a benchmark: it uses the benches' plumbing (a throwaway database, the real app under uvicorn)
to seed a demo org (two teammates, bulk records, a chat conversation, a notification) and drives
Chromium through the board, a deal, contacts, the dashboard, chat, the inbox and settings, in the
light theme, plus the board and chat in the dark one.

Environment as the benches (BENCH_DATABASE_URL, BENCH_REDIS_URL); CHROMIUM_PATH or /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any, Literal

import httpx
from playwright.async_api import Browser, ViewportSize, async_playwright

from bench import common
from bench.board import CHROMIUM, CHROMIUM_ARGS, app_server
from crm.seed import seed_bulk

OUT = common.ROOT / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}


class Demo:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.users: dict[str, httpx.Client] = {}
        self.emails: dict[str, str] = {}

    def sign_up(self, key: str, name: str, email: str) -> None:
        client = httpx.Client(base_url=self.base_url, timeout=30)
        client.post("/api/v1/auth/register", json={"email": email, "password": common.PASSWORD, "name": name})
        token = client.post("/api/v1/auth/login", json={"email": email, "password": common.PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        self.users[key], self.emails[key] = client, email

    def call(self, key: str, method: str, path: str, body: Any = None) -> Any:
        response = self.users[key].request(method, f"/api/v1{path}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def close(self) -> None:
        for client in self.users.values():
            client.close()


async def seed(demo: Demo, database_url: str) -> dict[str, Any]:
    demo.sign_up("maya", "Maya Chen", "maya@example.com")
    demo.sign_up("sam", "Sam Rivera", "sam@example.com")
    demo.sign_up("lee", "Lee Okafor", "lee@example.com")
    org = demo.call("maya", "POST", "/orgs", {"name": "Acme Sales"})
    slug = org["slug"]
    me = demo.call("maya", "GET", "/me")
    for key, role in (("sam", "member"), ("lee", "admin")):
        demo.call("maya", "POST", f"/orgs/{slug}/members", {"email": demo.emails[key], "role": role})
    await seed_bulk(
        database_url, org_id=org["id"], owner_id=me["id"], contacts=180, companies=40, deals=36, activities=90
    )
    demo.call("maya", "POST", f"/orgs/{slug}/invitations", {"email": "jordan@example.com", "role": "member"})
    general = demo.call("maya", "POST", f"/orgs/{slug}/channels", {"name": "general"})
    demo.call("maya", "POST", f"/orgs/{slug}/channels", {"name": "wins"})
    conversation = [
        ("sam", "Morning! Globex asked for the security questionnaire before Thursday's call."),
        ("maya", "I'll send it today. @sam can you update the deal's close date?"),
        ("sam", "Done, moved it to the 28th and bumped the probability to 60%."),
        ("lee", "Nice. If it closes this month we beat the quarter target."),
        ("maya", "Fingers crossed. Pricing call with their CFO is at 10:00."),
    ]
    for key, body in conversation:
        demo.call(key, "POST", f"/orgs/{slug}/channels/{general['id']}/messages", {"body": body})
    demo.call("sam", "POST", f"/orgs/{slug}/channels/{general['id']}/messages", {"body": "@maya the deck is in."})
    stages = {s["kind"]: s["id"] for s in demo.call("maya", "GET", f"/orgs/{slug}/stages")["items"]}
    demo.call(
        "lee",
        "POST",
        f"/orgs/{slug}/deals",
        {"title": "Umbrella renewal", "amount": 4_200_000, "stage_id": stages["won"]},
    )
    deal = demo.call(
        "sam", "POST", f"/orgs/{slug}/deals", {"title": "Initech expansion", "amount": 1_850_000, "owner_id": me["id"]}
    )
    thread = demo.call("sam", "GET", f"/orgs/{slug}/deals/{deal['id']}/thread")
    for key, body in (("sam", "Their IT lead wants SSO in the pilot."), ("maya", "Fine by me, it's in the Pro plan.")):
        demo.call(key, "POST", f"/orgs/{slug}/channels/{thread['id']}/messages", {"body": body})
    inbox = demo.call("maya", "GET", f"/orgs/{slug}/notifications")["items"]
    demo.call(
        "maya", "POST", f"/orgs/{slug}/notifications/read", {"ids": [n["id"] for n in inbox if n["kind"] == "mention"]}
    )
    return {"slug": slug, "channel": general["id"], "deal": deal["id"]}


async def capture(browser: Browser, base_url: str, ids: dict[str, Any], out: Path) -> list[Path]:
    shots: list[Path] = []
    slug = ids["slug"]
    pages = {
        "board": f"/o/{slug}/board",
        "deal": f"/o/{slug}/deals/{ids['deal']}",
        "contacts": f"/o/{slug}/contacts",
        "dashboard": f"/o/{slug}/dashboard",
        "chat": f"/o/{slug}/chat/{ids['channel']}",
        "inbox": f"/o/{slug}/inbox",
        "settings": f"/o/{slug}/settings",
    }
    themes: dict[Literal["light", "dark"], list[str]] = {"light": list(pages), "dark": ["board", "chat"]}
    for theme, names in themes.items():
        context = await browser.new_context(base_url=base_url, viewport=VIEWPORT, color_scheme=theme)
        login = await context.request.post(
            "/api/v1/auth/login",
            data={"email": "maya@example.com", "password": common.PASSWORD},
            headers={"Origin": base_url},
        )
        assert login.status == 200, await login.text()
        page = await context.new_page()
        for name in names:
            await page.goto(pages[name])
            await page.wait_for_load_state("networkidle")
            await page.evaluate("document.fonts.ready")
            await page.mouse.move(0, 0)
            path = out / (f"{name}.png" if theme == "light" else f"{name}-dark.png")
            await page.screenshot(path=str(path))
            shots.append(path)
        await context.close()
    return shots


async def run(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    async with common.bench_database("screens") as database_url:
        with app_server(common.app_env(database_url)) as base_url:
            demo = Demo(base_url)
            try:
                ids = await seed(demo, database_url)
            finally:
                demo.close()
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    shots = await capture(browser, base_url, ids, out)
                finally:
                    await browser.close()
    for path in shots:
        print(path.relative_to(common.ROOT) if path.is_relative_to(common.ROOT) else path)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    return asyncio.run(run(args.out))
