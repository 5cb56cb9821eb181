"""Cached GETs through the API: HTTP caching headers, and which views each write invalidates."""

from __future__ import annotations

from typing import Any

from tests.cache.support import misses, ok, outcomes, seed_records
from tests.helpers import Api, User


async def test_a_cached_get_sends_an_etag_and_answers_304_to_if_none_match(alice: User, org: dict[str, Any]) -> None:
    records = await seed_records(alice, org)
    path = records.views()["contacts:record"]
    first = await alice.get(path)
    second = await alice.get(path)
    assert (first.status, first.headers["X-Cache"], second.headers["X-Cache"]) == (200, "miss", "hit")
    assert first.json == second.json
    etag = first.headers["ETag"]
    assert etag == second.headers["ETag"] and etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, max-age=0, must-revalidate"

    not_modified = await alice.get(path, headers={"If-None-Match": etag})
    assert not_modified.status == 304
    assert not_modified.headers["ETag"] == etag

    await ok(alice, "PATCH", path, {"title": "CTO", "version": first.json["version"]})
    changed = await alice.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.json["title"] == "CTO" and changed.headers["ETag"] != etag


async def test_query_parameters_in_any_order_share_one_entry_and_pages_do_not(alice: User, org: dict[str, Any]) -> None:
    records = await seed_records(alice, org)
    for n in range(3):
        await alice.post(f"{records.base}/contacts", json={"first_name": f"P{n}", "last_name": "Page"})
    first = await alice.get(f"{records.base}/contacts?limit=2&q=page")
    same = await alice.get(f"{records.base}/contacts?q=page&limit=2&cursor=")
    assert (first.headers["X-Cache"], same.headers["X-Cache"]) == ("miss", "hit")
    cursor = first.json["next_cursor"]
    assert cursor
    next_page = await alice.get(f"{records.base}/contacts?q=page&limit=2&cursor={cursor}")
    assert next_page.headers["X-Cache"] == "miss"
    assert {c["id"] for c in next_page.json["items"]}.isdisjoint({c["id"] for c in first.json["items"]})


async def test_owner_me_is_cached_per_caller(api: Api, alice: User, org: dict[str, Any]) -> None:
    records = await seed_records(alice, org)
    mo = await api.signup("mo@example.com", "Mo Member")
    await api.add_member(alice, org, mo, "member")
    mine = await alice.get(f"{records.base}/deals?owner=me")
    theirs = await mo.get(f"{records.base}/deals?owner=me")
    assert [d["id"] for d in mine.json["items"]] == [records.deal["id"]]
    assert theirs.json["items"] == []
    assert theirs.headers["X-Cache"] == "miss"


async def test_each_write_invalidates_exactly_the_views_it_changes_and_no_other_org(
    api: Api, alice: User, bob: User, org: dict[str, Any]
) -> None:
    records = await seed_records(alice, org)
    other = await seed_records(bob, await bob.create_org("Rival Corp"))
    await api.signup("mo@example.com", "Mo Member")
    views, other_views = records.views(), other.views()
    await outcomes(alice, views)
    await outcomes(bob, other_views)
    assert misses(await outcomes(alice, views)) == set()

    base = records.base
    contact_version = records.contact["version"]
    dashboard = {"dashboard:stats", "dashboard:won-over-time"}
    writes = [
        (
            "PATCH",
            f"{base}/contacts/{records.contact['id']}",
            {"title": "CTO", "version": contact_version},
            {"contacts:list", "contacts:record", "search"},
        ),
        (
            "POST",
            f"{base}/contacts",
            {"first_name": "Joe", "last_name": "Bloggs"},
            {"contacts:list", "contacts:record", "search", *dashboard},
        ),
        (
            "PATCH",
            f"{base}/companies/{records.company['id']}",
            {"phone": "+1 555", "version": 1},
            {"companies:list", "companies:record", "search"},
        ),
        (
            "PATCH",
            f"{base}/deals/{records.deal['id']}",
            {"amount": 2500, "version": records.deal["version"]},
            {"deals:list", "deals:record", "pipeline", "stages:list", "search", *dashboard},
        ),
        (
            "PATCH",
            f"{base}/activities/{records.activity['id']}",
            {"done": True, "version": 1},
            {"activities:list", "activities:record", "search", *dashboard},
        ),
        (
            "PATCH",
            f"{base}/stages/{records.stage['id']}",
            {"name": "Inbound", "version": records.stage["version"]},
            {"stages:list", "pipeline", "deals:list", "deals:record", "search", *dashboard},
        ),
        ("PATCH", base, {"name": "Acme Renamed"}, {"org", *dashboard}),
        ("POST", f"{base}/members", {"email": "mo@example.com", "role": "member"}, {"members:list"}),
    ]
    for method, path, body, expected in writes:
        response = await alice.request(method, path, json=body)
        assert response.status in (200, 201), (path, response.json)
        assert misses(await outcomes(alice, views)) == expected, (method, path)
        assert misses(await outcomes(bob, other_views)) == set(), (method, path)


async def test_a_viewer_and_an_owner_share_record_entries_but_see_their_own_role(
    api: Api, alice: User, org: dict[str, Any]
) -> None:
    records = await seed_records(alice, org)
    vera = await api.signup("vera@example.com", "Vera Viewer")
    await api.add_member(alice, org, vera, "viewer")
    path = records.views()["contacts:record"]
    assert (await alice.get(path)).headers["X-Cache"] == "miss"
    assert (await vera.get(path)).headers["X-Cache"] == "hit"  # a record reads the same for every member
    org_path = f"/api/v1/orgs/{org['slug']}"
    for _ in range(2):  # the second round is served from the cache, still per role
        assert (await alice.get(org_path)).json["role"] == "owner"
        assert (await vera.get(org_path)).json["role"] == "viewer"
    assert (await vera.get(org_path)).headers["X-Cache"] == "hit"


async def test_metrics_count_hits_and_misses(alice: User, org: dict[str, Any], api: Api) -> None:
    records = await seed_records(alice, org)
    await outcomes(alice, records.views())
    await outcomes(alice, records.views())
    response = await api.app.test_client().get("/metrics")
    text = (await response.get_data()).decode()
    assert response.status_code == 200
    assert 'tinycrm_cache_lookups_total{kind="dashboard:stats",result="hit"}' in text
    assert 'tinycrm_cache_lookups_total{kind="contacts:record",result="miss"}' in text
    assert "tinycrm_cache_latency_seconds_bucket" in text
