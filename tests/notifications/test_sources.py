"""What creates notifications: deal assignment, won deals (configurable), due activities, invitations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Quart

from crm.notifications.service import notify_invitation, send_due_reminders
from crm.uow import write_transaction
from tests.helpers import Api, User


async def kinds(user: User, base: str) -> list[str]:
    return [n["kind"] for n in (await user.get(f"{base}/notifications")).json["items"]]


async def test_deal_assigned_to_someone_else_notifies_them(team: dict[str, User], base: str) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    mine = await alice.post(f"{base}/deals", json={"title": "Own deal"})
    assert mine.status == 201
    assert await kinds(alice, base) == []  # assigning oneself is no news
    deal = await alice.post(f"{base}/deals", json={"title": "Initech", "owner_id": bob.id})
    assert deal.status == 201, deal.json
    notes = (await bob.get(f"{base}/notifications")).json["items"]
    assert [(n["kind"], n["data"]["deal_id"]) for n in notes] == [("deal_assigned", deal.json["id"])]
    assert notes[0]["title"] == "Alice Adams assigned you the deal Initech"
    moved = await alice.patch(
        f"{base}/deals/{deal.json['id']}", json={"owner_id": carol.id, "version": deal.json["version"]}
    )
    assert moved.status == 200, moved.json
    assert await kinds(carol, base) == ["deal_assigned"]
    assert await kinds(bob, base) == ["deal_assigned"]


async def test_won_deal_notifies_members_who_want_it(team: dict[str, User], base: str) -> None:
    alice, bob, carol = team["alice"], team["bob"], team["carol"]
    assert (await carol.get(f"{base}/notifications/settings")).json == {"notify_deal_won": True}
    off = await carol.patch(f"{base}/notifications/settings", json={"notify_deal_won": False})
    assert off.status == 200 and off.json == {"notify_deal_won": False}
    stages = {s["name"]: s["id"] for s in (await alice.get(f"{base}/stages")).json["items"]}
    deal = (await alice.post(f"{base}/deals", json={"title": "Umbrella", "amount": 9000})).json
    won = await alice.post(
        f"{base}/deals/{deal['id']}/move", json={"stage_id": stages["Won"], "version": deal["version"]}
    )
    assert won.status == 200, won.json
    notes = (await bob.get(f"{base}/notifications")).json["items"]
    assert [(n["kind"], n["title"]) for n in notes] == [("deal_won", "Deal won: Umbrella")]
    assert await kinds(carol, base) == []
    assert await kinds(alice, base) == []  # the one who won it


async def test_due_activities_remind_their_owners_once(
    app: Quart, team: dict[str, User], base: str, org: dict[str, Any], sql: Any
) -> None:
    bob = team["bob"]
    now = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    async def activity(subject: str, due: datetime | None, *, done: bool = False, owner: int | None = bob.id) -> int:
        return int(
            await sql.fetchval(
                "INSERT INTO activities (org_id, type, subject, due_at, done, owner_id)"
                " VALUES ($1, 'call', $2, $3, $4, $5) RETURNING id",
                org["id"],
                subject,
                due,
                done,
                owner,
            )
        )

    soon = await activity("Call Globex", now + timedelta(minutes=10))
    await activity("Later", now + timedelta(hours=2))
    await activity("Done already", now + timedelta(minutes=5), done=True)
    await activity("Nobody's", now + timedelta(minutes=5), owner=None)
    await activity("No date", None)
    await activity("Long overdue", now - timedelta(days=3))
    async with app.app_context():
        db, hub = app.extensions["db"], app.extensions["redis"]
        assert await send_due_reminders(db, hub, now) == 1
        assert await send_due_reminders(db, hub, now + timedelta(minutes=1)) == 0
    notes = (await bob.get(f"{base}/notifications")).json["items"]
    assert [(n["kind"], n["data"]["activity_id"]) for n in notes] == [("activity_due", soon)]
    assert notes[0]["title"] == "Due soon: Call Globex"
    # a new due time deserves a new reminder
    await sql.execute("UPDATE activities SET due_at = $1 WHERE id = $2", now + timedelta(minutes=50), soon)
    async with app.app_context():
        assert await send_due_reminders(db, hub, now + timedelta(minutes=40)) == 1
    assert await kinds(bob, base) == ["activity_due", "activity_due"]


async def test_invitation_to_an_existing_user_lands_in_their_inbox(
    api: Api, team: dict[str, User], org: dict[str, Any], sql: Any
) -> None:
    alice = team["alice"]
    dana = await api.signup("dana@example.com", "Dana Doe")
    invited = await alice.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "DANA@example.com"})
    assert invited.status == 201, invited.json
    unknown = await alice.post(f"/api/v1/orgs/{org['slug']}/invitations", json={"email": "nobody@example.com"})
    assert unknown.status == 201
    inbox = await dana.get("/api/v1/notifications")
    assert inbox.status == 200
    assert [(n["kind"], n["title"], n["org_id"]) for n in inbox.json["items"]] == [
        ("invitation", "Alice Adams invited you to Acme Sales", org["id"])
    ]
    assert inbox.json["items"][0]["data"]["invitation_id"] == invited.json["id"]
    assert inbox.json["unread_count"] == 1
    # Dana is not in the org: its inbox is not hers to read
    assert (await dana.get(f"/api/v1/orgs/{org['slug']}/notifications")).status == 404
    read = await dana.post("/api/v1/notifications/read", json={"all": True})
    assert read.json == {"updated": 1, "unread_count": 0}
    assert int(await sql.fetchval("SELECT count(*) FROM notifications WHERE kind = 'invitation'")) == 1


async def test_invitation_hook_skips_members(app: Quart, team: dict[str, User], org: dict[str, Any]) -> None:
    async with app.app_context():
        db = app.extensions["db"]
        async with write_transaction(db) as tx:
            await notify_invitation(
                tx, org_id=org["id"], email=team["bob"].email, inviter_id=team["alice"].id, role="member"
            )
    assert (await team["bob"].get("/api/v1/notifications")).json["items"] == []
