"""Dashboard stats equal a brute-force recomputation, whatever mix of writes came before."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from databases import Database

from crm.dashboard import service
from crm.tenancy.scope import OrgScope
from tests.dashboard.workload import NOW, Workload, brute_force_stats, brute_force_won_by_month
from tests.helpers import Api, User

STAT_KEYS = [
    "contacts",
    "companies",
    "open_deals",
    "open_value",
    "won_this_month",
    "won_value_this_month",
    "lost_this_month",
    "closing_this_month",
    "activities_due_today",
    "activities_overdue",
    "win_rate",
    "pipeline",
]


async def test_stats_match_brute_force_after_random_writes(
    db: Database, scope: OrgScope, alice: User, bob: User
) -> None:
    other = await bob.create_org("Other Org")
    noise = Workload(db, other["id"], bob.id, seed=99)
    await noise.load_stages()
    work = Workload(db, scope.id, alice.id, seed=7)
    await work.load_stages()
    for round_ in range(6):
        for _ in range(60):
            await work.step()
            await noise.step()
        got = await service.dashboard_stats(db, org=scope, now=NOW)
        expected = await brute_force_stats(db, scope.id, NOW)
        assert {k: got[k] for k in STAT_KEYS} == {k: expected[k] for k in STAT_KEYS}, f"round {round_}"
    # the workload really exercised every number
    assert got["won_this_month"] and got["lost_this_month"] and got["closing_this_month"]
    assert got["activities_due_today"] and got["activities_overdue"] and got["contacts"]

    # the trigger-kept due-day rollup is what rebuilding it from the rows gives (crm.seed does that)
    async def due_days() -> dict[Any, int]:
        rows = await db.fetch_all(
            "SELECT day, open_count FROM activity_due_days WHERE org_id = :org AND open_count <> 0", {"org": scope.id}
        )
        return {row["day"]: row["open_count"] for row in rows}

    kept = await due_days()
    assert len(kept) > 10 and all(count > 0 for count in kept.values())
    await db.execute("SELECT recompute_activity_due_days(:org)", {"org": scope.id})
    assert await due_days() == kept


async def test_won_over_time_matches_brute_force(db: Database, scope: OrgScope, alice: User) -> None:
    work = Workload(db, scope.id, alice.id, seed=3)
    await work.load_stages()
    for _ in range(250):
        await work.step()
    series = await service.won_over_time(db, org=scope, months=6, now=NOW)
    months = [item["month"] for item in series["items"]]
    assert months == [
        date(2025, 10, 1),
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    truth = await brute_force_won_by_month(db, scope.id)
    assert [(i["count"], i["value"]) for i in series["items"]] == [truth.get(m, (0, 0)) for m in months]
    assert sum(i["count"] for i in series["items"]) > 0


async def test_month_edges_are_utc(db: Database, scope: OrgScope, alice: User) -> None:
    work = Workload(db, scope.id, alice.id, seed=1)
    await work.load_stages()
    won_stage = next(s["id"] for s in work.stages if s["kind"] == "won")
    for n, at in enumerate(["2026-03-01 00:00:00+00", "2026-03-01 03:00:00+05", "2026-03-31 20:00:00-05"]):
        await db.execute(
            "INSERT INTO deals (org_id, title, amount, stage_id, position, won_at)"
            " VALUES (:org, 'Edge', 100, :stage, :pos, :at)",
            {"org": scope.id, "stage": won_stage, "pos": f"e{n}", "at": datetime.fromisoformat(at)},
        )
    stats = await service.dashboard_stats(db, org=scope, now=NOW)
    # only the first is in March in UTC: the second is 28 Feb 22:00 UTC, the third 1 Apr 01:00 UTC
    assert stats["won_this_month"] == 1
    assert stats["won_value_this_month"] == 100
    assert stats["win_rate"] == 1.0


async def test_stats_route_answers_the_contract(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    response = await alice.get(f"/api/v1/orgs/{org['slug']}/dashboard/stats")
    assert response.status == 200, response.json
    body = response.json
    assert body["contacts"] == 0 and body["open_deals"] == 0 and body["open_value"] == 0
    assert body["win_rate"] is None
    assert body["currency"] == "USD"
    assert [s["name"] for s in body["pipeline"]] == ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert {s["kind"] for s in body["pipeline"]} == {"open", "won", "lost"}
    assert all(s["count"] == 0 and s["value"] == 0 for s in body["pipeline"])
    as_of = datetime.fromisoformat(body["as_of"])
    assert as_of.utcoffset() is not None and abs((datetime.now(UTC) - as_of).total_seconds()) < 60

    outsider = await bob.get(f"/api/v1/orgs/{org['slug']}/dashboard/stats")
    assert outsider.status == 404
    anonymous = await api.request("GET", f"/api/v1/orgs/{org['slug']}/dashboard/stats")
    assert anonymous.status == 401


async def test_viewer_reads_stats(api: Api, alice: User, bob: User, org: dict[str, Any]) -> None:
    await api.add_member(alice, org, bob, "viewer")
    response = await bob.get(f"/api/v1/orgs/{org['slug']}/dashboard/stats")
    assert response.status == 200


async def test_won_over_time_route(alice: User, org: dict[str, Any]) -> None:
    response = await alice.get(f"/api/v1/orgs/{org['slug']}/dashboard/won-over-time?months=3")
    assert response.status == 200, response.json
    items = response.json["items"]
    assert len(items) == 3 and all(i["count"] == 0 for i in items)
    assert items[-1]["month"] == datetime.now(UTC).date().replace(day=1).isoformat()
    default = await alice.get(f"/api/v1/orgs/{org['slug']}/dashboard/won-over-time")
    assert len(default.json["items"]) == 12


async def test_won_over_time_rejects_bad_months(alice: User, org: dict[str, Any]) -> None:
    for bad in ["0", "61", "-1", "abc", "1.5", "9" * 30]:
        response = await alice.get(f"/api/v1/orgs/{org['slug']}/dashboard/won-over-time?months={bad}")
        assert response.status == 422, bad
        assert response.json["error"]["fields"]["months"]
