"""The live board, as two teammates use it in two browsers."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import BrowserUser, api_call
from tests.realtime.conftest import Instance


async def _shared_org(server: Instance, alice: BrowserUser, bob: BrowserUser) -> dict[str, Any]:
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Board Team"})
    assert status == 201
    status, _ = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": bob.email, "role": "member"}
    )
    assert status == 201
    return org


def column(page: Any, name: str) -> Any:
    return page.locator("section.column", has=page.get_by_role("heading", name=name, exact=True))


async def test_a_drag_by_one_user_moves_the_card_for_the_other_live(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Adams"), await make_user("Bob Brown")
    org = await _shared_org(server, alice, bob)
    status, deal = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/deals", {"title": "Northwind renewal", "amount": 480000}
    )
    assert status == 201
    for user in (alice, bob):
        await user.page.goto(f"/o/{org['slug']}/board")
        await expect(column(user.page, "Lead").get_by_text("Northwind renewal")).to_be_visible()
    # each sees the other on the board
    await expect(alice.page.locator("[data-presence] .avatar")).to_have_count(2)
    await expect(bob.page.locator('[data-presence] [aria-label="Alice Adams"]')).to_be_visible()

    card = alice.page.locator(f'[data-deal-id="{deal["id"]}"]')
    await card.drag_to(column(alice.page, "Proposal").locator("[data-cards]"))
    await expect(column(bob.page, "Proposal").get_by_text("Northwind renewal")).to_be_visible()
    await expect(column(bob.page, "Lead").get_by_text("Northwind renewal")).to_have_count(0)
    status, fresh = await api_call(bob, server, "GET", f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}")
    proposal = next(
        s
        for s in (await api_call(bob, server, "GET", f"/api/v1/orgs/{org['slug']}/stages"))[1]["items"]
        if s["name"] == "Proposal"
    )
    assert fresh["stage_id"] == proposal["id"]


async def test_a_card_moves_with_the_keyboard_alone(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Keys")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Keyboard Co"})
    assert status == 201
    status, deal = await api_call(alice, server, "POST", f"/api/v1/orgs/{org['slug']}/deals", {"title": "Arrow deal"})
    page = alice.page
    await page.goto(f"/o/{org['slug']}/board")
    await page.locator(f'[data-deal-id="{deal["id"]}"]').focus()
    for key in ("Space", "ArrowRight", "ArrowRight", "Space"):
        await page.keyboard.press(key)
    await expect(column(page, "Proposal").get_by_text("Arrow deal")).to_be_visible()
    await page.reload()
    await expect(column(page, "Proposal").get_by_text("Arrow deal")).to_be_visible()


async def test_a_stale_move_snaps_back_with_a_conflict_message(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Stale")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Stale Co"})
    status, deal = await api_call(alice, server, "POST", f"/api/v1/orgs/{org['slug']}/deals", {"title": "Racy deal"})
    page = alice.page
    await page.goto(f"/o/{org['slug']}/board")
    await expect(page.get_by_text("Racy deal")).to_be_visible()
    # someone else renames it behind this page's back; block the live update so the page keeps the old version
    await page.evaluate("window.tinycrm.live.socket.disconnect()")
    status, _ = await api_call(
        alice,
        server,
        "PATCH",
        f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}",
        {"title": "Racy deal (renamed)", "version": deal["version"]},
    )
    assert status == 200
    await page.locator(f'[data-deal-id="{deal["id"]}"]').focus()
    for key in ("Space", "ArrowRight", "Space"):
        await page.keyboard.press(key)
    await expect(page.locator(".toast")).to_contain_text("changed by someone else")
    await expect(column(page, "Lead").get_by_text("Racy deal (renamed)")).to_be_visible()
