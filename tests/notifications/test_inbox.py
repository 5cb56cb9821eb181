"""The inbox: list, unread count, mark read, settings, and the events that carry notifications."""

from __future__ import annotations

from typing import Any

import orjson

from tests.helpers import User
from tests.notifications.conftest import mention


async def test_inbox_lists_unread_and_marks_read(team: dict[str, User], base: str, general: dict[str, Any]) -> None:
    alice, bob = team["alice"], team["bob"]
    for n in range(3):
        await mention(alice, base, general["id"], f"@bob ping {n}")
    inbox = await bob.get(f"{base}/notifications")
    assert inbox.status == 200
    assert inbox.json["unread_count"] == 3 and len(inbox.json["items"]) == 3
    newest, middle, oldest = inbox.json["items"]
    assert newest["id"] > middle["id"] > oldest["id"] and newest["read"] is False
    marked = await bob.post(f"{base}/notifications/read", json={"ids": [oldest["id"]]})
    assert marked.status == 200 and marked.json == {"updated": 1, "unread_count": 2}
    unread = await bob.get(f"{base}/notifications?unread=true")
    assert [n["id"] for n in unread.json["items"]] == [newest["id"], middle["id"]]
    everything = await bob.post(f"{base}/notifications/read", json={"all": True})
    assert everything.json == {"updated": 2, "unread_count": 0}
    assert (await bob.get(f"{base}/notifications?unread=true")).json["items"] == []
    assert len((await bob.get(f"{base}/notifications")).json["items"]) == 3


async def test_marking_someone_elses_notification_does_nothing(
    team: dict[str, User], base: str, general: dict[str, Any]
) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    await mention(alice, base, general["id"], "@carol see this")
    carols = (await carol.get(f"{base}/notifications")).json["items"]
    marked = await bob.post(f"{base}/notifications/read", json={"ids": [carols[0]["id"]]})
    assert marked.json == {"updated": 0, "unread_count": 0}
    assert (await carol.get(f"{base}/notifications")).json["unread_count"] == 1


async def test_cursor_walks_all_notifications_once(team: dict[str, User], base: str, general: dict[str, Any]) -> None:
    alice, bob = team["alice"], team["bob"]
    for n in range(7):
        await mention(alice, base, general["id"], f"@bob number {n}")
    seen: list[int] = []
    cursor = ""
    while True:
        page = await bob.get(f"{base}/notifications?limit=3&cursor={cursor}")
        assert page.status == 200
        seen += [n["id"] for n in page.json["items"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)


async def test_notification_created_event_goes_to_that_user_only(
    team: dict[str, User], base: str, general: dict[str, Any], sql: Any
) -> None:
    alice, bob = team["alice"], team["bob"]
    await mention(alice, base, general["id"], "hey @bob")
    rows = await sql.fetch("SELECT audience, data FROM events WHERE type = 'notification.created'")
    assert len(rows) == 1
    assert orjson.loads(rows[0]["audience"]) == {"scope": "users", "user_ids": [bob.id]}
    assert orjson.loads(rows[0]["data"])["kind"] == "mention"


async def test_bad_input_gets_clear_errors(team: dict[str, User], base: str, api: Any) -> None:
    bob = team["bob"]
    cases = [
        ("POST", "/notifications/read", {"json": {}}, 422),
        ("POST", "/notifications/read", {"json": {"ids": "all"}}, 422),
        ("POST", "/notifications/read", {"json": {"ids": [1], "extra": True}}, 422),
        ("POST", "/notifications/read", {"data": "{", "headers": {"Content-Type": "application/json"}}, 400),
        ("GET", "/notifications?unread=maybe", {}, 422),
        ("GET", "/notifications?limit=500", {}, 422),
        ("GET", "/notifications?cursor=garbage", {}, 422),
        ("GET", "/notifications?cursor=WyJ4Il0", {}, 422),
        ("PATCH", "/notifications/settings", {"json": {"notify_deal_won": "sometimes"}}, 422),
    ]
    for method, path, kwargs, status in cases:
        response = await bob.request(method, base + path, **kwargs)
        assert response.status == status, (path, response.json)
        assert response.json["error"]["code"]
    outsider = await api.signup("out@example.com", "Out Sider")
    assert (await outsider.get(f"{base}/notifications")).status == 404
    assert (await api.request("GET", f"{base}/notifications")).status == 401
