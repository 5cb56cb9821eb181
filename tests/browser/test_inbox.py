"""The inbox and the bell: notifications arrive live on any page; marking read updates the badge."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import BrowserUser, api_call
from tests.realtime.conftest import Instance


async def _mention(author: BrowserUser, server: Instance, org: dict[str, Any], channel: int, who: BrowserUser) -> None:
    handle = who.email.split("@")[0]
    status, _ = await api_call(
        author, server, "POST", f"/api/v1/orgs/{org['slug']}/channels/{channel}/messages", {"body": f"@{handle} ping"}
    )
    assert status == 201


async def test_mark_read_in_the_inbox_updates_the_bell_and_new_ones_arrive_live(
    server: Instance, make_user: Any
) -> None:
    alice, bob = await make_user("Alice Inbox"), await make_user("Bob Inbox")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Inbox Team"})
    assert status == 201
    status, _ = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": bob.email, "role": "member"}
    )
    status, channel = await api_call(alice, server, "POST", f"/api/v1/orgs/{org['slug']}/channels", {"name": "ops"})

    # on the board (a page that is not the inbox) the bell follows live
    page = bob.page
    await page.goto(f"/o/{org['slug']}/board")
    badge = page.locator("[data-unread-badge]")
    await expect(badge).to_be_hidden()
    await _mention(alice, server, org, channel["id"], bob)
    await expect(badge).to_have_text("1")
    await _mention(alice, server, org, channel["id"], bob)
    await expect(badge).to_have_text("2")
    await expect(page.get_by_role("link", name="Notifications, 2 unread")).to_be_visible()

    await page.get_by_role("link", name="Notifications, 2 unread").click()
    await expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    unread = page.locator(".notification.unread")
    await expect(unread).to_have_count(2)
    await unread.first.locator("[data-mark-read]").click()
    await expect(unread).to_have_count(1)
    await expect(badge).to_have_text("1")
    await expect(page.locator("[data-inbox-summary]")).to_have_text("1 unread")

    # a new one arrives live, unread, at the top
    await _mention(alice, server, org, channel["id"], bob)
    await expect(unread).to_have_count(2)
    await expect(badge).to_have_text("2")

    await page.get_by_role("button", name="Mark all read").click()
    await expect(unread).to_have_count(0)
    await expect(badge).to_be_hidden()
    await expect(page.locator("[data-inbox-summary]")).to_have_text("All caught up")
    status, listing = await api_call(bob, server, "GET", f"/api/v1/orgs/{org['slug']}/notifications?unread=true")
    assert status == 200 and listing["unread_count"] == 0
    await page.reload()
    await expect(page.locator(".notification")).to_have_count(3)
    await expect(unread).to_have_count(0)
