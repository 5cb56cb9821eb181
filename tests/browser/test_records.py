"""Record pages and lists in a real browser: inline edits, conflicts, the timeline, lists and export."""

from __future__ import annotations

import csv
import io
from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import BrowserUser, api_call
from tests.realtime.conftest import Instance


async def _org(server: Instance, owner: BrowserUser, name: str, *members: BrowserUser) -> dict[str, Any]:
    status, org = await api_call(owner, server, "POST", "/api/v1/orgs", {"name": name})
    assert status == 201, org
    for member in members:
        status, body = await api_call(
            owner, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": member.email, "role": "member"}
        )
        assert status == 201, body
    return org


async def _create(user: BrowserUser, server: Instance, org: dict[str, Any], kind: str, data: dict[str, Any]) -> Any:
    status, body = await api_call(user, server, "POST", f"/api/v1/orgs/{org['slug']}/{kind}", data)
    assert status == 201, body
    return body


async def test_deal_fields_edit_inline_and_persist_across_a_reload(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Inline")
    org = await _org(server, alice, "Inline Co")
    acme = await _create(alice, server, org, "companies", {"name": "Acme Rockets"})
    deal = await _create(alice, server, org, "deals", {"title": "First draft", "amount": 10000})
    page = alice.page
    await page.goto(f"/o/{org['slug']}/deals/{deal['id']}")
    await expect(page.get_by_label("Title")).to_have_value("First draft")

    await page.get_by_label("Title").fill("Acme rocket fleet")
    await page.get_by_label("Title").press("Enter")
    await expect(page.locator("[data-save-status]")).to_have_text("Saved")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Acme rocket fleet")
    await page.get_by_label("Amount (USD)").fill("2500.50")
    await page.get_by_label("Stage").select_option(label="Proposal")
    await page.get_by_label("Company").select_option(label="Acme Rockets")
    await page.get_by_label("Expected close date").fill("2030-05-17")
    await page.get_by_label("Probability (%)").fill("60")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("[data-save-status]")).to_have_text("Saved")

    await page.reload()
    await expect(page.get_by_label("Title")).to_have_value("Acme rocket fleet")
    await expect(page.get_by_label("Amount (USD)")).to_have_value("2500.5")
    await expect(page.get_by_label("Probability (%)")).to_have_value("60")
    await expect(page.get_by_label("Expected close date")).to_have_value("2030-05-17")
    await expect(page.get_by_label("Stage").locator("option:checked")).to_have_text("Proposal")
    status, saved = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}")
    assert status == 200, saved
    assert (saved["title"], saved["amount"], saved["company_id"]) == ("Acme rocket fleet", 250050, acme["id"])
    assert (saved["probability"], saved["expected_close_date"]) == (60, "2030-05-17")

    # a value the API refuses shows its message next to the field, and the typed text stays
    await page.get_by_label("Probability (%)").fill("150")
    await page.get_by_label("Probability (%)").press("Enter")
    await expect(page.locator('[data-field-error="probability"]')).not_to_be_empty()
    await expect(page.get_by_label("Probability (%)")).to_have_value("150")
    await expect(page.get_by_label("Probability (%)")).to_have_attribute("aria-invalid", "true")


async def test_a_stale_save_gets_the_conflict_message_and_keeps_what_was_typed(
    server: Instance, make_user: Any
) -> None:
    alice, bob = await make_user("Alice Stale"), await make_user("Bob Quick")
    org = await _org(server, alice, "Conflict Co", bob)
    deal = await _create(alice, server, org, "deals", {"title": "Shared deal", "amount": 5000})
    path = f"/o/{org['slug']}/deals/{deal['id']}"
    for user in (alice, bob):
        await user.page.goto(path)
        await expect(user.page.get_by_label("Title")).to_have_value("Shared deal")
    # both see each other on the deal
    await expect(alice.page.locator("[data-presence] .avatar")).to_have_count(2)
    await expect(alice.page.locator('[data-presence] [aria-label="Bob Quick"]')).to_be_visible()

    # Alice's page misses Bob's change (offline for a moment), so her next save is stale
    await alice.page.evaluate("window.tinycrm.live.socket.disconnect()")
    await bob.page.get_by_label("Title").fill("Bob's title")
    await bob.page.get_by_label("Title").press("Enter")
    await expect(bob.page.locator("[data-save-status]")).to_have_text("Saved")

    await alice.page.get_by_label("Title").fill("Alice's title")
    await alice.page.get_by_label("Amount (USD)").fill("77")
    await alice.page.get_by_role("button", name="Save", exact=True).click()
    banner = alice.page.locator("[data-conflict]")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("changed by someone else")
    await expect(alice.page.get_by_label("Title")).to_have_value("Alice's title")
    await expect(alice.page.get_by_label("Amount (USD)")).to_have_value("77")
    await expect(alice.page.locator('[data-theirs="title"]')).to_have_text("Their value: Bob's title")
    status, current = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}")
    assert status == 200, current
    assert (current["title"], current["amount"]) == ("Bob's title", 5000)

    # Alice keeps hers, on top of Bob's version
    await alice.page.get_by_role("button", name="Save my changes").click()
    await expect(banner).to_be_hidden()
    await expect(alice.page.locator("[data-save-status]")).to_have_text("Saved")
    status, current = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}")
    assert status == 200, current
    assert (current["title"], current["amount"]) == ("Alice's title", 7700)
    # Bob's open page follows live
    await expect(bob.page.get_by_label("Title")).to_have_value("Alice's title")


async def test_an_activity_is_added_to_the_deal_and_ticked_done(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Tasks")
    org = await _org(server, alice, "Tasks Co")
    deal = await _create(alice, server, org, "deals", {"title": "Follow-up deal"})
    page = alice.page
    await page.goto(f"/o/{org['slug']}/deals/{deal['id']}")
    form = page.locator("[data-activity-form]")

    await form.get_by_role("button", name="Add activity").click()  # no subject: the API says why, next to it
    await expect(form.locator('[data-field-error="subject"]')).not_to_be_empty()

    await form.get_by_label("Type").select_option("task")
    await form.get_by_label("Subject").fill("Send the proposal")
    await form.get_by_label("Due").fill("2031-03-04T10:30")
    await form.get_by_label("Details").fill("PDF with the volume discount")
    await form.get_by_role("button", name="Add activity").click()
    item = page.locator("[data-timeline] li", has_text="Send the proposal")
    await expect(item).to_be_visible()
    await expect(item).to_contain_text("PDF with the volume discount")
    await expect(form.locator('[data-field-error="subject"]')).to_be_empty()

    await item.get_by_role("checkbox", name="Mark “Send the proposal” done").check()
    await expect(item).to_have_class("activity is-done")
    status, listed = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/activities?deal={deal['id']}")
    assert status == 200, listed
    assert [(a["subject"], a["type"], a["done"]) for a in listed["items"]] == [("Send the proposal", "task", True)]
    await page.reload()
    await expect(page.get_by_role("checkbox", name="Mark “Send the proposal” done")).to_be_checked()


async def test_contacts_list_searches_sorts_scrolls_and_exports(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Lists")
    org = await _org(server, alice, "Lists Co")
    for i in range(120):
        await _create(
            alice,
            server,
            org,
            "contacts",
            {
                "first_name": f"Ann{i:03d}",
                "last_name": f"Seed{i:03d}",
                "email": f"ann{i:03d}@example.com",
                "owner_id": alice.id if i % 2 == 0 else None,
            },
        )
    page = alice.page
    await page.goto(f"/o/{org['slug']}/contacts")
    rows = page.locator("[data-rows] tr")
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_contain_text("Ann000 Seed000")

    await page.get_by_label("Search contacts", exact=True).fill("seed042")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("ann042@example.com")
    await page.get_by_label("Search contacts", exact=True).fill("")
    await expect(rows).to_have_count(50)

    await page.get_by_role("button", name="Name").click()  # name is the current sort: flips to descending
    await expect(page.locator("th[aria-sort=descending]")).to_have_text("Name ▼")
    await expect(rows.first).to_contain_text("Ann119 Seed119")
    assert "sort=-name" in page.url

    # keyset infinite scroll: scrolling to the end loads the next pages
    await page.locator("[data-load-more]").scroll_into_view_if_needed()
    await expect(rows).to_have_count(100)
    await page.locator("[data-load-more]").scroll_into_view_if_needed()
    await expect(rows).to_have_count(120)
    await expect(page.locator("[data-end]")).to_be_visible()
    await expect(rows.last).to_contain_text("Ann000 Seed000")

    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await download_info.value
    assert download.suggested_filename.startswith("contacts-") and download.suggested_filename.endswith(".csv")
    with open(await download.path(), encoding="utf-8") as handle:
        exported = list(csv.DictReader(io.StringIO(handle.read())))
    assert len(exported) == 120
    assert [r["last_name"] for r in exported[:2]] == ["Seed119", "Seed118"]
    assert exported[-1]["email"] == "ann000@example.com"
    assert [r["owner"] for r in exported[:2]] == ["", "Alice Lists"]
    await expect(page.locator("[data-list-status]")).to_have_text("Exported 120 contacts.")

    # the owner filter narrows the view, keeping the sort
    await page.get_by_label("Owner").select_option(label="Alice Lists")
    await expect(rows.first).to_contain_text("Ann118 Seed118")
    await expect(rows).to_have_count(50)
    assert "owner=" in page.url and "sort=-name" in page.url


async def test_quick_create_shows_the_field_error_and_then_adds_the_row(server: Instance, make_user: Any) -> None:
    alice = await make_user("Alice Quick")
    org = await _org(server, alice, "Quick Co")
    company = await _create(alice, server, org, "companies", {"name": "Globex"})
    page = alice.page
    await page.goto(f"/o/{org['slug']}/contacts")
    await page.get_by_text("New contact").click()
    form = page.locator("[data-quick-create]")
    await form.get_by_label("First name").fill("Hank")
    await form.get_by_label("Last name").fill("Scorpio")
    await form.get_by_label("Email").fill("not-an-email")
    await form.get_by_role("button", name="Create").click()
    error = form.locator('[data-field-error="email"]')
    await expect(error).to_contain_text("email")
    await expect(form.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    await expect(form.get_by_label("Email")).to_be_focused()
    await expect(form.get_by_label("First name")).to_have_value("Hank")  # nothing typed is lost

    await form.get_by_label("Email").fill("hank@globex.example")
    await form.get_by_label("Company").select_option(label="Globex")
    await form.get_by_role("button", name="Create").click()
    row = page.locator("[data-rows] tr", has_text="Hank Scorpio")
    await expect(row).to_contain_text("Globex")
    await expect(error).to_be_empty()
    status, listed = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/contacts?q=hank")
    assert status == 200, listed
    assert [(c["email"], c["company_id"]) for c in listed["items"]] == [("hank@globex.example", company["id"])]

    # the contact's page shows it, and its company's page lists it among the people
    await row.get_by_role("link", name="Hank Scorpio").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Hank Scorpio")
    await expect(page.get_by_label("Company")).to_have_value(str(company["id"]))
    await page.goto(f"/o/{org['slug']}/companies/{company['id']}")
    await expect(page.locator("[data-people]")).to_contain_text("Hank Scorpio")


async def test_list_rows_follow_teammates_changes_live(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Rows"), await make_user("Bob Rows")
    org = await _org(server, alice, "Rows Co", bob)
    deal = await _create(alice, server, org, "deals", {"title": "Row deal", "amount": 1000})
    await bob.page.goto(f"/o/{org['slug']}/deals")
    row = bob.page.locator(f'[data-rows] tr[data-id="{deal["id"]}"]')
    await expect(row).to_contain_text("Lead")
    status, _ = await api_call(
        alice,
        server,
        "PATCH",
        f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}",
        {"title": "Row deal, renamed", "version": deal["version"]},
    )
    assert status == 200
    await expect(row).to_contain_text("Row deal, renamed")
    await _create(alice, server, org, "deals", {"title": "Brand new deal"})
    await expect(bob.page.locator("[data-rows] tr", has_text="Brand new deal")).to_be_visible()


async def test_a_teammates_change_to_the_field_being_typed_in_asks_before_overwriting(
    server: Instance, make_user: Any
) -> None:
    alice, bob = await make_user("Alice Typing"), await make_user("Bob Typing")
    org = await _org(server, alice, "Typing Co", bob)
    deal = await _create(alice, server, org, "deals", {"title": "Original", "amount": 100})
    page = alice.page
    await page.goto(f"/o/{org['slug']}/deals/{deal['id']}")
    await page.get_by_label("Title").fill("Alice is still typing")  # not saved yet
    status, body = await api_call(
        bob,
        server,
        "PATCH",
        f"/api/v1/orgs/{org['slug']}/deals/{deal['id']}",
        {"title": "Bob got there first", "amount": 900, "version": deal["version"]},
    )
    assert status == 200, body
    await expect(page.locator("[data-conflict]")).to_be_visible()
    await expect(page.get_by_label("Title")).to_have_value("Alice is still typing")
    await expect(page.locator('[data-theirs="title"]')).to_have_text("Their value: Bob got there first")
    await expect(page.get_by_label("Amount (USD)")).to_have_value("9")  # untouched fields follow live

    await page.get_by_role("button", name="Use their values").click()
    await expect(page.locator("[data-conflict]")).to_be_hidden()
    await expect(page.get_by_label("Title")).to_have_value("Bob got there first")
    await expect(page.get_by_label("Title")).to_be_focused()


async def test_the_deal_chat_thread_delivers_messages_live(server: Instance, make_user: Any) -> None:
    alice, bob = await make_user("Alice Chat"), await make_user("Bob Chat")
    org = await _org(server, alice, "Thread Co", bob)
    deal = await _create(alice, server, org, "deals", {"title": "Chatty deal"})
    for user in (alice, bob):
        await user.page.goto(f"/o/{org['slug']}/deals/{deal['id']}")
        await expect(user.page.locator("[data-thread-status]")).to_have_text("No messages yet. Start the conversation.")
    box = alice.page.get_by_role("textbox", name="Message")
    await box.fill("Can we close by Friday?")
    await box.press("Enter")
    await expect(alice.page.locator("[data-messages] li")).to_have_count(1)
    await expect(box).to_have_value("")
    await expect(bob.page.locator("[data-messages] li", has_text="Can we close by Friday?")).to_contain_text(
        "Alice Chat"
    )
    # activities added elsewhere arrive in the open timeline too
    await _create(alice, server, org, "activities", {"type": "call", "subject": "Ring the CFO", "deal_id": deal["id"]})
    await expect(bob.page.locator("[data-timeline] li", has_text="Ring the CFO")).to_contain_text("Call")


async def test_deals_list_quick_create_and_proper_error_pages(server: Instance, make_user: Any) -> None:
    alice, viewer = await make_user("Alice Deals"), await make_user("Vic Viewer")
    org = await _org(server, alice, "Deal List Co")
    status, body = await api_call(
        alice, server, "POST", f"/api/v1/orgs/{org['slug']}/members", {"email": viewer.email, "role": "viewer"}
    )
    assert status == 201, body
    page = alice.page
    await page.goto(f"/o/{org['slug']}/deals")
    await page.get_by_text("New deal").click()
    form = page.locator("[data-quick-create]")
    await form.get_by_label("Title").fill("Listed deal")
    await form.get_by_label("Amount (USD)").fill("-5")
    await form.get_by_role("button", name="Create").click()
    await expect(form.locator('[data-field-error="amount"]')).not_to_be_empty()
    await form.get_by_label("Amount (USD)").fill("75")
    await form.get_by_label("Stage").select_option(label="Proposal")
    await form.get_by_role("button", name="Create").click()
    row = page.locator("[data-rows] tr", has_text="Listed deal")
    await expect(row).to_contain_text("Proposal")
    await expect(row).to_contain_text("$75")
    await page.get_by_label("Stage", exact=True).first.select_option(label="Lead")
    await expect(page.locator("[data-list-status]")).to_have_text("No deals match.")

    # a viewer reads the deal but cannot edit it; a missing deal is a proper page
    status, deals = await api_call(alice, server, "GET", f"/api/v1/orgs/{org['slug']}/deals")
    assert status == 200, deals
    await viewer.page.goto(f"/o/{org['slug']}/deals/{deals['items'][0]['id']}")
    await expect(viewer.page.get_by_label("Title")).to_be_disabled()
    await expect(viewer.page.locator("[data-activity-form]")).to_have_count(0)
    response = await viewer.page.goto(f"/o/{org['slug']}/deals/999999")
    assert response is not None and response.status == 404
    await expect(viewer.page.get_by_role("heading", name="Not found")).to_be_visible()


async def test_company_page_edits_inline_and_lists_its_deals_people_and_activities(
    server: Instance, make_user: Any
) -> None:
    alice = await make_user("Alice Company")
    org = await _org(server, alice, "Company Page Co")
    initech = await _create(alice, server, org, "companies", {"name": "Initech"})
    await _create(alice, server, org, "companies", {"name": "Umbrella"})
    peter = await _create(alice, server, org, "contacts", {"first_name": "Peter", "last_name": "Gibbons"})
    await _create(
        alice, server, org, "deals", {"title": "TPS reports", "company_id": initech["id"], "contact_id": peter["id"]}
    )
    page = alice.page
    await page.goto(f"/o/{org['slug']}/companies")
    await expect(page.locator("[data-rows] tr").first).to_contain_text("Initech")
    sort = page.get_by_role("button", name="Name")
    await sort.focus()
    await page.keyboard.press("Enter")  # sorting works from the keyboard
    await expect(page.locator("[data-rows] tr").first).to_contain_text("Umbrella")

    await page.goto(f"/o/{org['slug']}/companies/{initech['id']}")
    await expect(page.locator("[data-related-deals]")).to_contain_text("TPS reports")
    await page.get_by_label("Domain").fill("initech.example")
    await page.get_by_label("Domain").press("Enter")
    await expect(page.locator("[data-save-status]")).to_have_text("Saved")
    form = page.locator("[data-activity-form]")
    await form.get_by_label("Type").select_option("meeting")
    await form.get_by_label("Subject").fill("Quarterly review")
    await form.get_by_role("button", name="Add activity").click()
    await expect(page.locator("[data-timeline] li", has_text="Quarterly review")).to_contain_text("Meeting")

    # a deal linked to the company from elsewhere shows up live
    await _create(alice, server, org, "deals", {"title": "Stapler recall", "company_id": initech["id"]})
    await expect(page.locator("[data-related-deals]")).to_contain_text("Stapler recall")
    await page.reload()
    await expect(page.get_by_label("Domain")).to_have_value("initech.example")
    await expect(page.locator("[data-timeline]")).to_contain_text("Quarterly review")

    await page.goto(f"/o/{org['slug']}/contacts/{peter['id']}")
    await expect(page.locator("[data-related-deals]")).to_contain_text("TPS reports")
    await expect(page.get_by_label("First name")).to_have_value("Peter")
