"""Team chat in two browsers: live messages, unread badges, mentions, history, edits and search."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import BrowserUser, api_call
from tests.realtime.conftest import Instance


async def _team(server: Instance, alice: BrowserUser, bob: BrowserUser, name: str) -> dict[str, Any]:
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": name})
    assert status == 201
    status, _ = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": bob.email, "role": "member"}
    )
    assert status == 201
    return org


async def _channel(user: BrowserUser, server: Instance, org: dict[str, Any], name: str) -> dict[str, Any]:
    status, channel = await api_call(user, server, "POST", f"/api/v1/orgs/{org['slug']}/channels", {"name": name})
    assert status == 201, channel
    return channel


async def test_a_message_sent_by_one_user_appears_live_for_the_other_with_an_unread_badge(
    server: Instance, make_user: Any
) -> None:
    alice, bob = await make_user("Alice Chat"), await make_user("Bob Chat")
    org = await _team(server, alice, bob, "Chat Team")
    general = await _channel(alice, server, org, "general")
    random = await _channel(alice, server, org, "random")
    await alice.page.goto(f"/o/{org['slug']}/chat/{general['id']}")
    await bob.page.goto(f"/o/{org['slug']}/chat/{general['id']}")
    await expect(bob.page.locator("[data-channel-name]")).to_have_text("# general")

    composer = alice.page.get_by_label("Message", exact=True)
    await composer.fill("Morning team, the Northwind call is at ten")
    await composer.press("Enter")
    await expect(bob.page.locator("[data-messages]").get_by_text("the Northwind call is at ten")).to_be_visible()
    await expect(alice.page.locator(".message.pending")).to_have_count(0)

    # a message in a channel Bob is not looking at gives that channel an unread badge
    status, _ = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/channels/{random['id']}/messages", {"body": "lunch?"}
    )
    assert status == 201
    badge = bob.page.locator(f'[data-channel-id="{random["id"]}"] [data-unread]')
    await expect(badge).to_have_text("1")
    # opening it clears the badge and records the read position
    await bob.page.locator(f'[data-channel-id="{random["id"]}"]').click()
    await expect(bob.page.locator("[data-messages]").get_by_text("lunch?")).to_be_visible()
    await expect(bob.page.locator("[data-unread]")).to_have_count(0)
    await bob.page.reload()
    await expect(bob.page.locator("[data-unread]")).to_have_count(0)


async def test_typing_shows_for_the_other_user_and_mentions_autocomplete(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Mention"), await make_user("Bob Mention")
    org = await _team(server, alice, bob, "Mention Team")
    general = await _channel(alice, server, org, "general")
    for user in (alice, bob):
        await user.page.goto(f"/o/{org['slug']}/chat/{general['id']}")
    composer = alice.page.get_by_label("Message", exact=True)
    await composer.click()
    await composer.press_sequentially("Thanks @Bo")
    await expect(bob.page.locator("[data-typing]")).to_have_text("Alice Mention is typing…")
    option = alice.page.get_by_role("listbox", name="People to mention").get_by_role("option")
    await expect(option).to_have_count(1)
    await expect(option).to_contain_text("Bob Mention")
    await composer.press("Enter")  # picks the highlighted person, does not send
    handle = bob.email.split("@")[0]
    await expect(composer).to_have_value(f"Thanks @{handle} ")
    await composer.press_sequentially("for the intro")
    await composer.press("Enter")
    message = bob.page.locator(".message.mentions-me")
    await expect(message).to_contain_text("for the intro")
    await expect(message.locator("mark.mention")).to_have_text(f"@{handle}")
    # the mention is a notification: Bob's bell shows it
    status, inbox = await api_call(bob, server, "GET", f"/api/v1/orgs/{org['slug']}/notifications?unread=true")
    assert status == 200
    assert [n["kind"] for n in inbox["items"]] == ["mention"]
    await expect(bob.page.locator("[data-unread-badge]")).to_have_text("1")


async def test_history_loads_on_scroll_and_own_messages_can_be_edited_deleted_and_found(
    server: Instance, make_user: Any
) -> None:
    alice = await make_user("Alice History")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "History Co"})
    channel = await _channel(alice, server, org, "log")
    for n in range(1, 71):
        status, _ = await api_call(
            alice,
            server,
            "POST",
            f"/api/v1/orgs/{org['slug']}/channels/{channel['id']}/messages",
            {"body": f"entry number {n}", "client_id": f"seed-{n}"},
        )
        assert status == 201
    page = alice.page
    await page.goto(f"/o/{org['slug']}/chat/{channel['id']}")
    messages = page.locator("[data-messages] > li")
    await expect(messages).to_have_count(50)
    await expect(page.get_by_text("entry number 70", exact=True)).to_be_visible()
    await page.locator("[data-message-pane]").evaluate("pane => { pane.scrollTop = 0; }")
    await expect(messages).to_have_count(70)
    await expect(messages.first).to_contain_text("entry number 1")

    last = page.locator(".message", has_text="entry number 70")
    await last.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("Edit message")
    await expect(editor).to_have_value("entry number 70")
    await editor.fill("entry number seventy, corrected")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".message", has_text="entry number seventy, corrected")).to_contain_text("(edited)")

    await page.locator(".message", has_text="entry number 69").get_by_role("button", name="Delete").click()
    # the message list, not the live region, which announces the same words 30 ms later
    await expect(messages.get_by_text("Message deleted")).to_be_visible()
    await expect(page.get_by_text("entry number 69", exact=True)).to_have_count(0)

    await page.get_by_label("Search messages").fill("corrected")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator("[data-search-title]")).to_have_text("1 result for “corrected”")
    await expect(page.locator("[data-search-results] .message")).to_contain_text("entry number seventy, corrected")


async def test_a_channel_and_a_direct_message_are_started_from_the_page(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Starter"), await make_user("Bob Starter")
    org = await _team(server, alice, bob, "Starter Team")
    page = alice.page
    await page.goto(f"/o/{org['slug']}/chat")
    await page.get_by_text("New channel").click()
    await page.get_by_label("Name").fill("deals-desk")
    await page.get_by_role("button", name="Create channel").click()
    await expect(page.locator("[data-channel-name]")).to_have_text("# deals-desk")
    await page.get_by_text("New direct message").click()
    await page.get_by_label("Person").select_option(label="Bob Starter")
    await page.get_by_role("button", name="Start conversation").click()
    await expect(page.locator("[data-channel-name]")).to_have_text("Bob Starter")
    await page.get_by_label("Message", exact=True).fill("hi Bob")
    await page.get_by_label("Message", exact=True).press("Enter")
    await bob.page.goto(f"/o/{org['slug']}/chat")
    dm = bob.page.locator('[data-channel-list="dm"] a', has_text="Alice Starter")
    await expect(dm).to_be_visible()
    await dm.click()
    await expect(bob.page.get_by_text("hi Bob")).to_be_visible()


async def test_a_private_channel_of_others_is_a_not_found_page(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Private"), await make_user("Bob Outside")
    org = await _team(server, alice, bob, "Private Team")
    status, secret = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/channels", {"kind": "private", "name": "board-only"}
    )
    assert status == 201
    response = await bob.page.goto(f"/o/{org['slug']}/chat/{secret['id']}")
    assert response is not None and response.status == 404
    await expect(bob.page.get_by_role("heading", name="Not found")).to_be_visible()
    await bob.page.goto(f"/o/{org['slug']}/chat")
    await expect(bob.page.locator("[data-channel-list]").get_by_text("board-only")).to_have_count(0)
    # signed out, the page asks for a sign-in and comes back
    await bob.context.clear_cookies()
    await bob.page.goto(f"/o/{org['slug']}/chat")
    await expect(bob.page).to_have_url(f"{server.url}/login?next=/o/{org['slug']}/chat")


async def test_a_send_whose_answer_is_lost_is_retried_without_posting_twice(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Retry")
    status, org = await api_call(alice, server, "POST", "/api/v1/orgs", {"name": "Retry Co"})
    assert status == 201
    channel = await _channel(alice, server, org, "flaky")
    page = alice.page
    await page.goto(f"/o/{org['slug']}/chat/{channel['id']}")
    await page.wait_for_function("() => window.tinycrm.live.socket.connected")
    await page.evaluate("() => window.tinycrm.live.socket.disconnect()")  # the REST path, as when offline
    lost: list[str] = []

    async def lose_first_answer(route: Any) -> None:
        if route.request.method == "POST" and not lost:
            response = await route.fetch()  # the server stores the message...
            lost.append(await response.text())
            await route.abort("connectionreset")  # ...but the answer never reaches the page
        else:
            await route.continue_()

    await page.route(f"**/channels/{channel['id']}/messages", lose_first_answer)
    composer = page.get_by_label("Message", exact=True)
    await composer.fill("exactly once")
    await composer.press("Enter")
    await expect(page.locator(".message:not(.pending)", has_text="exactly once")).to_have_count(1)
    await expect(page.locator(".message.pending")).to_have_count(0)
    assert lost, "the first answer was dropped"
    status, listing = await api_call(
        alice, server, "GET", f"/api/v1/orgs/{org['slug']}/channels/{channel['id']}/messages"
    )
    assert [m["body"] for m in listing["items"]] == ["exactly once"]
