"""Org settings and the personal account page, as an admin and as a plain member use them."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from tests.browser.conftest import PASSWORD, BrowserUser, api_call
from tests.realtime.conftest import Instance


async def _team(server: Instance, alice: BrowserUser, bob: BrowserUser, name: str) -> dict[str, Any]:
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": name})
    assert status == 201
    status, _ = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": bob.email, "role": "member"}
    )
    assert status == 201
    return org


async def test_an_admin_changes_a_role_and_edits_stages_while_a_member_only_reads(
    server: Instance, make_user: Any
) -> None:
    alice, bob = await make_user("Alice Admin"), await make_user("Bob Member")
    org = await _team(server, alice, bob, "Settings Team")
    page = alice.page
    await page.goto(f"/o/{org['slug']}/settings")
    await page.get_by_label("Role of Bob Member").select_option("viewer")
    await expect(page.locator("#live-region")).to_have_text("Bob Member is now Viewer")
    status, members = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/members")
    assert {m["name"]: m["role"] for m in members["items"]}["Bob Member"] == "viewer"

    # add a stage, rename it, move it up one, delete it
    await page.get_by_label("New stage").fill("Discovery")
    await page.get_by_role("button", name="Add stage").click()
    rows = page.locator("[data-stage-list] > li")
    last = rows.last
    await expect(last.get_by_role("textbox")).to_have_value("Discovery")
    await last.get_by_role("textbox").fill("Discovery call")
    await last.get_by_role("button", name="Rename").click()
    await expect(page.locator("#live-region")).to_have_text("Stage renamed to Discovery call")
    count = await rows.count()
    await page.get_by_role("button", name="Move Discovery call up").click()
    await expect(rows.nth(count - 2).get_by_role("textbox")).to_have_value("Discovery call")
    status, stages = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/stages")
    assert [s["name"] for s in stages["items"]][count - 2] == "Discovery call"
    await page.get_by_role("button", name="Delete stage Discovery call").click()
    await expect(rows).to_have_count(count - 1)

    # the org's name and the 2FA requirement
    await page.get_by_label("Name", exact=True).fill("Settings Team Renamed")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#live-region")).to_have_text("Organisation saved")
    status, fresh = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}")
    assert status == 200
    assert fresh["name"] == "Settings Team Renamed"

    # requiring 2FA is refused while the admin has none (it would lock them out of the org)
    await page.get_by_label("Require two-factor sign-in for every member").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator('[data-field-error="require_2fa"]')).to_contain_text("Turn on two-factor sign-in")
    status, fresh = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}")
    assert fresh["require_2fa"] is False

    # Bob (now a viewer) sees the settings without controls
    await bob.page.goto(f"/o/{org['slug']}/settings")
    await expect(bob.page.get_by_text("only owners and admins can change them")).to_be_visible()
    await expect(bob.page.get_by_role("button", name="Add stage")).to_have_count(0)
    await expect(bob.page.locator("[data-org-settings] select, [data-org-settings] input")).to_have_count(0)
    await expect(bob.page.locator("[data-member-rows]")).to_contain_text("Viewer")


async def test_an_api_key_is_shown_once_listed_and_revoked(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Keys")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Key Co"})
    assert status == 201
    page = alice.page
    await page.goto("/account")
    await page.get_by_label("Key name").fill("CI export")
    await page.get_by_role("button", name="Create key").click()
    key = page.locator("[data-new-key-value]")
    await expect(key).not_to_be_empty()
    secret = (await key.text_content() or "").strip()
    keys = page.locator("[data-key-list] > li[data-key-id]")
    await expect(keys).to_have_count(1)
    await expect(keys.first).to_contain_text("CI export")
    assert secret not in (await keys.first.text_content() or "")

    # the key works against the API, until revoked
    api = alice.context.request
    response = await api.get(f"/api/v1/orgs/{org['slug']}/deals", headers={"Authorization": f"Bearer {secret}"})
    assert response.status == 200
    await page.reload()
    await expect(page.locator("[data-new-key]")).to_be_hidden()  # shown once
    await page.get_by_role("button", name="Revoke key CI export").click()
    await expect(keys).to_have_count(0)
    response = await api.get(f"/api/v1/orgs/{org['slug']}/deals", headers={"Authorization": f"Bearer {secret}"})
    assert response.status == 401


async def test_another_session_is_signed_out_from_the_account_page(
    browser: Browser, server: Instance, make_user: Any
) -> None:
    alice = await make_user("Alice Sessions")
    other = await browser.new_context(base_url=server.url)
    signed_in = await other.request.post(
        "/api/v1/auth/login", data={"email": alice.email, "password": PASSWORD}, headers={"Origin": server.url}
    )
    assert signed_in.status == 200
    assert (await other.request.get("/api/v1/me")).status == 200

    page = alice.page
    await page.goto("/account")
    sessions = page.locator("[data-session-list] > li")
    await expect(sessions).to_have_count(2)
    await expect(sessions.filter(has_text="(this browser)")).to_have_count(1)
    await sessions.filter(has_not_text="(this browser)").get_by_role("button").click()
    await expect(sessions).to_have_count(1)
    assert (await other.request.get("/api/v1/me")).status == 401
    assert (await alice.context.request.get("/api/v1/me")).status == 200
    await other.close()


async def test_the_name_and_the_password_are_changed_on_the_account_page(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Oldname")
    page = alice.page
    await page.goto("/account")
    await page.get_by_label("Name", exact=True).fill("Alice Newname")
    await page.get_by_role("button", name="Save name").click()
    await expect(page.locator(".usermenu .username")).to_have_text("Alice Newname")
    status, me = await api_call(alice, server, "GET", "/api/v1/me")
    assert status == 200 and me["name"] == "Alice Newname"

    await page.get_by_label("Current password").fill("not my password")
    await page.get_by_label("New password").fill("an even better passphrase")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator('[data-field-error="current_password"]')).to_have_text("is not right")
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator("[data-password-status]")).to_contain_text("Password changed.")
    assert (await alice.context.request.get("/api/v1/me")).status == 200  # this session stays signed in
    headers = {"Origin": server.url}
    old = await alice.context.request.post(
        "/api/v1/auth/login", data={"email": alice.email, "password": PASSWORD}, headers=headers
    )
    assert old.status == 401
    new = await alice.context.request.post(
        "/api/v1/auth/login", data={"email": alice.email, "password": "an even better passphrase"}, headers=headers
    )
    assert new.status == 200
