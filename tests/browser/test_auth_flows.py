"""Sign-in flows in the browser: sign up to a first deal, forgot/reset password through the dev
mailbox, email verification, 2FA enrolment then sign-in with a code, and accepting an invitation."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import pyotp
from playwright.async_api import Browser, BrowserContext, expect

from tests.browser.conftest import PASSWORD, BrowserUser, api_call
from tests.realtime.conftest import Instance

MAIL_TIMEOUT = 10.0


async def mail_link(context: BrowserContext, to: str, subject: str) -> str:
    """The path of the link in the newest mail to `to` with this subject, once it has arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAIL_TIMEOUT
    while True:
        response = await context.request.get(f"/dev/mailbox.json?to={to}")
        assert response.status == 200
        for message in (await response.json())["items"]:
            if message["subject"] == subject and message["links"]:
                link = urlsplit(message["links"][0])
                return f"{link.path}?{link.query}"
        assert loop.time() < deadline, f"no mail {subject!r} to {to}"
        await asyncio.sleep(0.05)  # mail is queued after the response: poll the mailbox until it lands


async def fresh_context(browser: Browser, server: Instance) -> BrowserContext:
    return await browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})


async def test_sign_up_create_an_org_and_add_a_deal(browser: Browser, server: Instance) -> None:
    context = await fresh_context(browser, server)
    page = await context.new_page()
    email = f"newbie-{secrets.token_hex(3)}@example.com"
    await page.goto("/signup")
    await page.get_by_label("Name").fill("Nora New")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{server.url}/welcome")
    await page.get_by_label("Organisation name").fill("Nora Trading")
    await page.get_by_role("button", name="Create organisation").click()
    await expect(page.get_by_role("heading", name="Pipeline")).to_be_visible()
    await page.get_by_label("New deal title").fill("First big order")
    await page.get_by_label("Amount").fill("1200")
    await page.get_by_role("button", name="Add deal").click()
    await expect(page.locator(".deal-card", has_text="First big order")).to_be_visible()
    await page.reload()
    await expect(page.locator(".deal-card", has_text="First big order")).to_be_visible()

    # the verification mail's link verifies the address
    await page.goto(await mail_link(context, email, "Confirm your email address for TinyCRM"))
    await expect(page.get_by_role("status")).to_have_text(f"Thank you: {email} is verified.")
    me = await (await context.request.get("/api/v1/me")).json()
    assert me["email_verified"] is True
    await context.close()


async def test_forgot_and_reset_password_through_the_mailbox(
    browser: Browser, make_user: Any, server: Instance
) -> None:
    user: BrowserUser = await make_user("Fran Forget")
    context = await fresh_context(browser, server)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_role("button", name="Send reset link").click()
    await expect(page.get_by_text("Check your mail")).to_be_visible()

    await page.goto(await mail_link(context, user.email, "Reset your TinyCRM password"))
    await page.get_by_label("New password").fill("short")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.locator('[data-field-error="password"]')).not_to_be_empty()
    await page.get_by_label("New password").fill("a brand new passphrase")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_text("Your password is changed.")).to_be_visible()

    await page.get_by_role("link", name="Sign in").click()
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("[data-form-error]")).to_be_visible()  # the old password is gone
    await page.get_by_label("Password").fill("a brand new passphrase")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{server.url}/welcome")
    await context.close()


async def test_enrol_in_2fa_then_sign_in_with_a_code(browser: Browser, make_user: Any, server: Instance) -> None:
    user: BrowserUser = await make_user("Tess Twofactor")
    page = user.page
    await page.goto("/account")
    await page.get_by_role("button", name="Set up two-factor sign-in").click()
    await expect(page.get_by_alt_text("QR code for your authenticator app")).to_be_visible()
    secret = (await page.locator("[data-tfa-secret]").text_content() or "").strip()
    totp = pyotp.TOTP(secret)
    await page.get_by_label("Code from the app").fill("000000" if totp.now() != "000000" else "111111")
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.locator('[data-field-error="code"]').first).not_to_be_empty()
    await page.get_by_label("Code from the app").fill(totp.now())
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.locator("[data-tfa-code-list] li")).to_have_count(10)
    await expect(page.locator("[data-tfa-status]")).to_contain_text("On.")

    context = await fresh_context(browser, server)
    fresh = await context.new_page()
    await fresh.goto("/login")
    await fresh.get_by_label("Email").fill(user.email)
    await fresh.get_by_label("Password").fill(PASSWORD)
    await fresh.get_by_role("button", name="Sign in").click()
    code_box = fresh.get_by_label("Authentication code (or a recovery code)")
    await expect(code_box).to_be_visible()
    # a code is good once: the enrolment used this step's, so sign in with the next step's (drift allowed)
    await code_box.fill(totp.at(time.time() + 30))
    await fresh.get_by_role("button", name="Sign in").click()
    await expect(fresh).to_have_url(f"{server.url}/welcome")
    await context.close()


async def test_the_oauth_second_step_asks_only_for_the_code(browser: Browser, server: Instance) -> None:
    context = await fresh_context(browser, server)
    page = await context.new_page()
    await page.goto("/login?mfa_token=not-a-real-token")
    await expect(page.get_by_label("Email")).to_have_count(0)
    await page.get_by_label("Authentication code (or a recovery code)").fill("123456")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("[role=alert]:visible, .field-error:not(:empty)").first).to_be_visible()
    await expect(page).to_have_url(f"{server.url}/login?mfa_token=not-a-real-token")
    await context.close()


async def test_an_invitation_is_accepted_by_signing_up(browser: Browser, make_user: Any, server: Instance) -> None:
    owner: BrowserUser = await make_user("Olga Owner")
    status, org = await api_call(owner, server, "POST", "/api/v1/orgs", {"name": "Invite Works"})
    assert status == 201
    await owner.page.goto(f"/o/{org['slug']}/settings")
    invitee = f"ivan-{secrets.token_hex(3)}@example.com"
    await owner.page.get_by_label("Email").fill(invitee)
    await owner.page.get_by_label("Role", exact=True).select_option("viewer")
    await owner.page.get_by_role("button", name="Send invitation").click()
    await expect(owner.page.locator("[data-invite-list]")).to_contain_text(invitee)

    context = await fresh_context(browser, server)
    page = await context.new_page()
    await page.goto(await mail_link(context, invitee, "You are invited to Invite Works on TinyCRM"))
    await page.get_by_label("Your name").fill("Ivan Invitee")
    await page.get_by_label("Email (the invited address)").fill(invitee)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account and join").click()
    await expect(page).to_have_url(f"{server.url}/o/{org['slug']}/board")
    status, members = await api_call(owner, server, "GET", f"/api/v1/orgs/{org['slug']}/members")
    assert {m["email"]: m["role"] for m in members["items"]}[invitee] == "viewer"
    await context.close()


async def test_the_sign_in_page_offers_the_configured_oauth_provider(app: Any, make_app: Any) -> None:
    configured = await make_app(oidc_issuer="https://id.example.com", oidc_client_id="tinycrm", oidc_name="acme")
    page = await (await configured.test_client().get("/login")).get_data(as_text=True)
    assert 'href="/api/v1/auth/oauth/acme/start"' in page
    assert "Sign in with Acme" in page
    # the OAuth callback's second step: only the code is asked for
    second = await (await configured.test_client().get("/login?mfa_token=abc")).get_data(as_text=True)
    assert 'data-mfa-token="abc"' in second
    assert "oauth/acme/start" not in second and 'name="password"' not in second
    plain = await (await app.test_client().get("/login")).get_data(as_text=True)
    assert "/auth/oauth/" not in plain


async def test_a_new_verification_link_is_sent_from_the_account_page(make_user: Any) -> None:
    user: BrowserUser = await make_user("Vic Verify")
    page = user.page
    await page.goto("/account")
    await expect(page.get_by_text("not verified")).to_be_visible()
    before = await (await user.context.request.get(f"/dev/mailbox.json?to={user.email}")).json()
    await page.get_by_role("button", name="Send a new verification link").click()
    await expect(page.get_by_text("Sent: check your mail for the link.")).to_be_visible()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAIL_TIMEOUT
    while True:  # the resend is queued after the response: poll until the second mail lands
        mails = (await (await user.context.request.get(f"/dev/mailbox.json?to={user.email}")).json())["items"]
        if len(mails) > len(before["items"]):
            break
        assert loop.time() < deadline, "no second verification mail"
        await asyncio.sleep(0.05)
    link = urlsplit(mails[0]["links"][0])
    await page.goto(f"{link.path}?{link.query}")
    await expect(page.get_by_role("status")).to_have_text(f"Thank you: {user.email} is verified.")
    await page.goto("/account")
    await expect(page.locator(".pill", has_text="verified")).to_have_text("verified")


async def test_forms_cannot_submit_before_their_script_handles_them(browser: Browser, server: Instance) -> None:
    # a native submit would reload the page, drop what was typed and put the password in the URL
    for enabled in (False, True):
        context = await browser.new_context(base_url=server.url, java_script_enabled=enabled)
        page = await context.new_page()
        for path, name in (("/signup", "Create account"), ("/login", "Sign in")):
            await page.goto(path)
            button = page.get_by_role("button", name=name)
            await (expect(button).to_be_enabled() if enabled else expect(button).to_be_disabled())
        await context.close()
