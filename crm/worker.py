"""`tinycrm worker`: scheduled background work.

It starts the same app as a web process (so the outbox relay and event fan-out
run here too) and adds the schedules that need no request: activity-due
reminders every REMINDER_EVERY seconds. Safe to run several: reminders claim
their rows with SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import UTC, datetime

from databases import Database
from quart import Quart

from crm.config import Config

log = logging.getLogger(__name__)

REMINDER_EVERY = float(os.environ.get("TINYCRM_REMINDER_EVERY", "30"))
PRUNE_EVERY = 3600.0
# Ended sessions are kept this long (for "where was I signed in" questions), then deleted.
ENDED_SESSION_RETENTION = "30 days"


async def prune_auth_state(db: Database) -> int:
    """Delete sessions that expired or were revoked long ago (refresh tokens cascade); how many."""
    removed = 0
    while True:
        rows = await db.fetch_all(
            "DELETE FROM user_sessions WHERE id IN (SELECT id FROM user_sessions"
            f" WHERE expires_at < now() - interval '{ENDED_SESSION_RETENTION}'"
            f" OR revoked_at < now() - interval '{ENDED_SESSION_RETENTION}' LIMIT 1000) RETURNING id"
        )
        removed += len(rows)
        if len(rows) < 1000:
            break
    await db.execute("DELETE FROM refresh_tokens WHERE expires_at < now()")
    return removed


async def reminders_round(app: Quart) -> int:
    from crm.notifications.service import send_due_reminders

    async with app.app_context():
        return await send_due_reminders(app.extensions["db"], app.extensions["redis"], datetime.now(UTC))


async def run_worker(config: Config, *, rounds: int | None = None) -> None:
    """Run until SIGTERM/SIGINT (or for `rounds` reminder rounds, for tests)."""
    from crm import create_app
    from realtime.server import create_socket_server

    app = create_app(config)
    create_socket_server(app, config)  # events published by the worker fan out like the web's
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with app.app_context():
        await app.startup()
        log.info("worker started: reminders every %.0fs, outbox relay running", REMINDER_EVERY)
        done = 0
        last_prune = 0.0
        try:
            while not stop.is_set() and (rounds is None or done < rounds):
                try:
                    sent = await reminders_round(app)
                    if sent:
                        log.info("sent %d activity reminders", sent)
                    if loop.time() - last_prune > PRUNE_EVERY:
                        last_prune = loop.time()
                        if pruned := await prune_auth_state(app.extensions["db"]):
                            log.info("pruned %d ended sessions", pruned)
                except Exception:
                    log.exception("worker round failed; retrying next round")
                done += 1
                if rounds is not None and done >= rounds:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=REMINDER_EVERY)
        finally:
            await app.shutdown()
