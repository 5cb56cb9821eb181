"""The tinycrm command, run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg

from crm.db import asyncpg_dsn


def tinycrm(*args: str, database_url: str, redis_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING", **env}
    return subprocess.run(
        [sys.executable, "-m", "crm.cli", *args], env=environ, capture_output=True, text=True, timeout=180
    )


async def test_create_user_then_sign_in(app, api, database_url: str, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    done = tinycrm(
        "create-user",
        "--email",
        "Carol@Example.com",
        "--name",
        "Carol",
        database_url=database_url,
        redis_url=redis_url,
        TINYCRM_PASSWORD="a long password",
    )
    assert done.returncode == 0, done.stderr
    assert "created user" in done.stdout
    signed_in = await api.request(
        "POST", "/api/v1/auth/login", json={"email": "carol@example.com", "password": "a long password"}
    )
    assert signed_in.status == 200
    again = tinycrm(
        "create-user",
        "--email",
        "carol@example.com",
        "--name",
        "Carol",
        database_url=database_url,
        redis_url=redis_url,
        TINYCRM_PASSWORD="a long password",
    )
    assert again.returncode == 1
    assert "already registered" in again.stderr


async def test_seed_demo_creates_the_demo_org_with_the_requested_volumes(database_url: str, redis_url: str) -> None:
    done = tinycrm("seed-demo", "--contacts", "2500", "--deals", "800", database_url=database_url, redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    assert "contacts" in done.stderr and "2,500/2,500" in done.stderr  # the progress bar
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        org = await conn.fetchrow(
            "SELECT o.id FROM orgs o JOIN memberships m ON m.org_id = o.id"
            " JOIN users u ON u.id = m.user_id WHERE u.email = 'demo@tinycrm.local'"
        )
        assert org is not None
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM contacts WHERE org_id = $1) AS contacts,"
            " (SELECT count(*) FROM deals WHERE org_id = $1) AS deals,"
            " (SELECT contacts FROM org_counters WHERE org_id = $1) AS counted,"
            " (SELECT sum(count) FROM deal_stage_totals WHERE org_id = $1) AS rolled_up",
            org["id"],
        )
        assert counts["contacts"] == 2500 and counts["deals"] == 800
        # rollups were rebuilt after the trigger-less COPY
        assert counts["counted"] == 2500 and counts["rolled_up"] == 800
        positions = await conn.fetch(
            "SELECT stage_id, count(*) AS n, count(DISTINCT position) AS distinct_positions"
            " FROM deals WHERE org_id = $1 GROUP BY stage_id",
            org["id"],
        )
        assert all(r["n"] == r["distinct_positions"] for r in positions)
    finally:
        await conn.close()


def test_migrate_reports_nothing_to_do_on_a_migrated_database(database_url: str, redis_url: str) -> None:
    done = tinycrm("migrate", database_url=database_url, redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "applied 0 migration(s)"


async def test_worker_sends_due_reminders(app, alice, org, database_url: str, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    """`tinycrm worker` notifies the owner of an activity that is due soon, once."""
    from datetime import UTC, datetime, timedelta

    due = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    created = await alice.post(
        f"/api/v1/orgs/{org['slug']}/activities", json={"type": "call", "subject": "Call Ada back", "due_at": due}
    )
    assert created.status == 201, created.json
    code = (
        "import asyncio; from crm.config import Config; from crm.worker import run_worker;"
        "c = Config.from_env(); asyncio.run(run_worker(c, rounds=1))"
    )
    environ = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    inbox = await alice.get(f"/api/v1/orgs/{org['slug']}/notifications")
    reminders = [n for n in inbox.json["items"] if "Call Ada back" in (n.get("title", "") + n.get("body", ""))]
    assert len(reminders) == 1


async def test_worker_prunes_long_ended_sessions_only(app, alice, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from crm.db import get_db
    from crm.worker import prune_auth_state

    async with app.app_context():
        db = get_db()
        rows = await db.fetch_all("SELECT id FROM user_sessions")
        assert len(rows) == 1  # alice's live session
        live = rows[0]["id"]
        await db.execute(
            "INSERT INTO user_sessions (id, user_id, expires_at) VALUES"
            " ('old-expired', :u, now() - interval '40 days'), ('recently-expired', :u, now() - interval '1 day')",
            {"u": alice.id or await db.fetch_val("SELECT id FROM users")},
        )
        assert await prune_auth_state(db) == 1
        left = {r["id"] for r in await db.fetch_all("SELECT id FROM user_sessions")}
        assert left == {live, "recently-expired"}
    assert (await alice.get("/api/v1/me")).status == 200
