"""The outbox: events are written with the change, then published after commit.

`record` runs inside the writing transaction and takes the org's next `seq`
(the org_counters row lock makes seq order equal commit order). `deliver`
runs after commit and emits through the socket.io manager (Redis pub/sub to
every instance); anything that fails to go out is left unpublished for the relay.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from databases import Database
from quart import current_app

log = logging.getLogger(__name__)

ORG_AUDIENCE: dict[str, Any] = {"scope": "org"}


async def record(
    db: Database,
    *,
    org_id: int,
    type: str,
    actor: int | None,
    data: dict[str, Any],
    audience: dict[str, Any] | None = None,
) -> dict[str, Any]:
    seq = await db.fetch_val(
        "UPDATE org_counters SET event_seq = event_seq + 1 WHERE org_id = :org RETURNING event_seq",
        {"org": org_id},
    )
    if seq is None:
        raise RuntimeError(f"org {org_id} has no counters row")
    event_id = uuid.uuid4()
    at = datetime.now(UTC)
    # datetimes as the HTTP API writes them (UTC with "Z"), so an applied event equals a fresh GET
    payload = orjson.dumps(data, option=orjson.OPT_UTC_Z)
    await db.execute(
        "INSERT INTO events (org_id, seq, id, type, actor_id, audience, data, created_at)"
        " VALUES (:org, :seq, :id, :type, :actor, CAST(:audience AS jsonb), CAST(:data AS jsonb), :at)",
        {
            "org": org_id,
            "seq": seq,
            "id": event_id,
            "type": type,
            "actor": actor,
            "audience": orjson.dumps(audience or ORG_AUDIENCE).decode(),
            "data": payload.decode(),
            "at": at,
        },
    )
    return {
        "type": type,
        "org": org_id,
        "seq": seq,
        "id": str(event_id),
        "at": at.isoformat().replace("+00:00", "Z"),
        "actor": actor,
        "data": orjson.loads(payload),
        "audience": audience or ORG_AUDIENCE,
    }


async def deliver(events: list[dict[str, Any]]) -> None:
    """Publish committed events; the realtime server decides who receives each."""
    emitter = current_app.extensions.get("event_emitter")
    if emitter is None:
        return
    try:
        await emitter(events)
    except Exception:  # the relay retries whatever is still unpublished
        log.exception("publishing %d events failed; the relay will retry", len(events))


async def sessions_revoked(session_ids: list[str]) -> None:
    """Tell every socket of these (now revoked) sessions, on every instance, that they are gone."""
    control = current_app.extensions.get("realtime_control")
    if control is not None:
        # every instance sends `session:revoked` to its local sockets of these sessions, then disconnects them
        try:
            await control({"kind": "revoke", "session_ids": list(session_ids)})
            return
        except Exception:  # fall back to the broadcast; instances also re-check sessions periodically
            log.exception("announcing %d revoked sessions failed", len(session_ids))
    sio = current_app.extensions.get("sio")
    if sio is None:
        return
    from realtime import rooms

    for session_id in session_ids:
        try:
            await sio.emit("session:revoked", {"session_id": session_id}, room=rooms.session_room(session_id))
        except Exception:  # revocation already holds in Redis and PostgreSQL; sockets re-check on use
            log.exception("announcing the revocation of session %s failed", session_id)
