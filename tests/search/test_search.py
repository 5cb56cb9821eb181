"""Search across kinds: ranked, per org, safe against tsquery syntax in q."""

from __future__ import annotations

from typing import Any

import pytest
from databases import Database
from quart import Quart

from crm.search.service import build_tsquery, query_words
from tests.helpers import Api, User


@pytest.fixture
def db(app: Quart) -> Database:
    database: Database = app.extensions["db"]
    return database


async def seed_records(db: Database, org_id: int, *, tag: str = "") -> dict[str, int]:
    """A few records of every kind, written straight in SQL."""
    ids: dict[str, int] = {}
    ids["company"] = await db.fetch_val(
        "INSERT INTO companies (org_id, name, domain) VALUES (:org, :name, 'zephyr.example') RETURNING id",
        {"org": org_id, "name": f"Zephyr Logistics{tag}"},
    )
    ids["contact"] = await db.fetch_val(
        "INSERT INTO contacts (org_id, first_name, last_name, email, title)"
        " VALUES (:org, 'Priya', 'Zephyrson', 'priya@zephyr.example', 'Buyer') RETURNING id",
        {"org": org_id},
    )
    ids["other_contact"] = await db.fetch_val(
        "INSERT INTO contacts (org_id, first_name, last_name, email)"
        " VALUES (:org, 'Hugo', 'Baker', 'hugo.baker@example.com') RETURNING id",
        {"org": org_id},
    )
    stage = await db.fetch_val(
        "SELECT id FROM pipeline_stages WHERE org_id = :org ORDER BY position LIMIT 1", {"org": org_id}
    )
    ids["deal"] = await db.fetch_val(
        "INSERT INTO deals (org_id, title, amount, stage_id, position)"
        " VALUES (:org, 'Zephyr fleet renewal', 5000, :stage, 'a1') RETURNING id",
        {"org": org_id, "stage": stage},
    )
    ids["activity"] = await db.fetch_val(
        "INSERT INTO activities (org_id, type, subject)"
        " VALUES (:org, 'call', 'Call Zephyr about the fleet') RETURNING id",
        {"org": org_id},
    )
    return ids


def search_path(org: dict[str, Any], q: str, **params: Any) -> str:
    from urllib.parse import urlencode

    return f"/api/v1/orgs/{org['slug']}/search?" + urlencode({"q": q, **params})


async def test_finds_every_kind_by_word_prefix(db: Database, alice: User, org: dict[str, Any]) -> None:
    ids = await seed_records(db, org["id"])
    response = await alice.get(search_path(org, "zeph"))
    assert response.status == 200, response.json
    found = {(item["kind"], item["id"]) for item in response.json["items"]}
    assert found == {
        ("company", ids["company"]),
        ("contact", ids["contact"]),
        ("deal", ids["deal"]),
        ("activity", ids["activity"]),
    }
    contact = next(i for i in response.json["items"] if i["kind"] == "contact")
    assert contact["title"] == "Priya Zephyrson"
    assert "priya@zephyr.example" in contact["subtitle"]
    deal = next(i for i in response.json["items"] if i["kind"] == "deal")
    assert deal["subtitle"] == "Lead"  # the stage
    ranks = [item["rank"] for item in response.json["items"]]
    assert ranks == sorted(ranks, reverse=True)


async def test_exact_name_ranks_first(db: Database, alice: User, org: dict[str, Any]) -> None:
    ids = await seed_records(db, org["id"])
    response = await alice.get(search_path(org, "Zephyr Logistics"))
    assert response.json["items"][0] == {
        "kind": "company",
        "id": ids["company"],
        "title": "Zephyr Logistics",
        "subtitle": "zephyr.example",
        "rank": response.json["items"][0]["rank"],
    }
    by_email = await alice.get(search_path(org, "hugo.baker@ex"))
    assert by_email.json["items"][0]["id"] == ids["other_contact"]
    by_words = await alice.get(search_path(org, "fleet renewal"))
    assert [(i["kind"], i["id"]) for i in by_words.json["items"]] == [("deal", ids["deal"])]


async def test_other_orgs_records_never_show(db: Database, alice: User, bob: User, org: dict[str, Any]) -> None:
    other = await bob.create_org("Rival Inc")
    await seed_records(db, other["id"], tag=" Rival")
    mine = await seed_records(db, org["id"])
    response = await alice.get(search_path(org, "zephyr", limit=200))
    assert {item["id"] for item in response.json["items"]} <= set(mine.values())
    assert all("Rival" not in item["title"] for item in response.json["items"])
    rival = await alice.get(search_path(org, "rival"))
    assert rival.json["items"] == []
    outsider = await bob.get(search_path(org, "zephyr"))
    assert outsider.status == 404


@pytest.mark.parametrize(
    "q",
    ["zeph & !", "zeph:*", "(zeph", "zeph | x", "'zeph'", "zeph<->x", "zeph\\", "!zeph", "zeph_", "zeph'); DROP --"],
)
async def test_tsquery_syntax_in_q_is_just_text(db: Database, alice: User, org: dict[str, Any], q: str) -> None:
    await seed_records(db, org["id"])
    response = await alice.get(search_path(org, q))
    assert response.status == 200, response.json
    assert isinstance(response.json["items"], list)


async def test_bad_queries_are_422(alice: User, org: dict[str, Any]) -> None:
    for q in ["", "   ", "x" * 201, "!!! ???", "&|"]:
        response = await alice.get(search_path(org, q))
        assert response.status == 422, q
        assert "q" in response.json["error"]["fields"]
    missing = await alice.get(f"/api/v1/orgs/{org['slug']}/search")
    assert missing.status == 422
    for limit in ["0", "201", "x"]:
        response = await alice.get(search_path(org, "zeph", limit=limit))
        assert response.status == 422
        assert "limit" in response.json["error"]["fields"]


async def test_limit_caps_the_answer(db: Database, alice: User, org: dict[str, Any]) -> None:
    for n in range(8):
        await db.execute(
            "INSERT INTO companies (org_id, name) VALUES (:org, :name)", {"org": org["id"], "name": f"Quasar {n}"}
        )
    response = await alice.get(search_path(org, "quasar", limit=5))
    assert len(response.json["items"]) == 5
    everything = await alice.get(search_path(org, "quasar"))
    assert len(everything.json["items"]) == 8


async def test_anonymous_is_401(api: Api, org: dict[str, Any]) -> None:
    response = await api.request("GET", search_path(org, "zeph"))
    assert response.status == 401


def test_tsquery_is_built_from_words_only() -> None:
    assert query_words("O'Brien & co:* | (x)") == ["o", "brien", "co", "x"]
    assert build_tsquery(["zeph", "a"]) == "'zeph':* & 'a'"
    assert query_words("Ünïcode Straße") == ["ünïcode", "straße"]


async def add_contact(db: Database, org_id: int, first: str, last: str, title: str | None = None) -> int:
    contact_id: int = await db.fetch_val(
        "INSERT INTO contacts (org_id, first_name, last_name, title) VALUES (:org, :first, :last, :title) RETURNING id",
        {"org": org_id, "first": first, "last": last, "title": title},
    )
    return contact_id


async def test_name_matches_rank_above_word_matches_and_a_page_of_them_is_the_answer(
    db: Database, alice: User, org: dict[str, Any]
) -> None:
    exact = await add_contact(db, org["id"], "Ivy", "Quill")
    prefixed = [await add_contact(db, org["id"], "Quill", last) for last in ("Adams", "Baker")]
    by_word = await add_contact(db, org["id"], "Mara", "Stone", title="Quill collector")

    page = await alice.get(search_path(org, "quill", limit=3))
    assert [item["id"] for item in page.json["items"]] == [exact, *prefixed]
    everything = await alice.get(search_path(org, "quill", limit=10))
    assert [item["id"] for item in everything.json["items"]] == [exact, *prefixed, by_word]
    ranks = [item["rank"] for item in everything.json["items"]]
    assert ranks[0] >= 1.0 > ranks[1] >= ranks[2] >= 0.5 > ranks[3] > 0


async def test_words_match_in_any_order_and_any_field(db: Database, alice: User, org: dict[str, Any]) -> None:
    ids = await seed_records(db, org["id"])
    for q in ["baker hugo", "hug bak", "buyer priya", "logistics zeph"]:
        response = await alice.get(search_path(org, q))
        assert response.status == 200, response.json
        assert response.json["items"], q
    assert [i["id"] for i in (await alice.get(search_path(org, "baker hugo"))).json["items"]] == [ids["other_contact"]]
    assert [i["id"] for i in (await alice.get(search_path(org, "buyer priya"))).json["items"]] == [ids["contact"]]


async def test_full_name_prefix_finds_a_contact(db: Database, alice: User, org: dict[str, Any]) -> None:
    ids = await seed_records(db, org["id"])
    response = await alice.get(search_path(org, "Priya Zephyrs"))
    assert response.json["items"][0]["id"] == ids["contact"]
    assert response.json["items"][0]["rank"] >= 0.5
