"""The dashboard in a real browser: tiles and charts, kept live by `dashboard.updated`."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import api_call
from tests.realtime.conftest import Instance


async def test_a_deal_won_by_one_user_changes_the_others_dashboard_live(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Closer"), await make_user("Bob Watcher")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Dash Co"})
    assert status == 201
    status, _ = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": bob.email, "role": "member"}
    )
    assert status == 201
    base = f"/api/v1/orgs/{org['slug']}"
    status, deal = await api_call(alice, server, "POST", f"{base}/deals", {"title": "Big win", "amount": 1234500})
    assert status == 201

    page = bob.page
    await page.goto(f"/o/{org['slug']}/dashboard")
    won = page.locator('[data-tile="won_this_month"] .value')
    open_deals = page.locator('[data-tile="open_deals"] .value')
    await expect(won).to_have_text("0")
    await expect(open_deals).to_have_text("1")
    await expect(page.locator("canvas[data-chart]")).to_have_count(4)
    # each chart has its numbers as a table for screen readers
    await expect(page.locator('[data-chart-table="pipeline"] tbody tr', has_text="Lead")).to_contain_text("$12,345")
    marker = await page.evaluate("window.__same_page = true")
    assert marker is True

    status, stages = await api_call(alice, server, "GET", f"{base}/stages")
    won_stage = next(s for s in stages["items"] if s["kind"] == "won")
    status, moved = await api_call(
        alice,
        server,
        "POST",
        f"{base}/deals/{deal['id']}/move",
        {"stage_id": won_stage["id"], "version": deal["version"]},
    )
    assert status == 200, moved

    await expect(won).to_have_text("1")
    await expect(open_deals).to_have_text("0")
    await expect(page.locator('[data-tile="won_value_this_month"] .value')).to_have_text("$12,345")
    await expect(page.locator("#live-region")).to_contain_text("Won this month 1, was 0")
    await expect(page.locator('[data-chart-table="won"] tbody')).to_contain_text("$12,345")
    assert await page.evaluate("window.__same_page") is True  # updated without a reload
