"""Chat fixtures: an org where Alice (owner), Bob and Carol (members) and Vera (viewer) work; Dan is outside."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from tests.helpers import Api, User


@pytest.fixture
async def team(api: Api, alice: User, bob: User, org: dict[str, Any]) -> dict[str, User]:
    await api.add_member(alice, org, bob, "member")
    carol = await api.signup("carol.c@example.com", "Carol Clark")
    await api.add_member(alice, org, carol, "member")
    vera = await api.signup("vera@example.com", "Vera Viewer")
    await api.add_member(alice, org, vera, "viewer")
    dan = await api.signup("dan@example.com", "Dan Outsider")
    return {"alice": alice, "bob": bob, "carol": carol, "vera": vera, "dan": dan}


@pytest.fixture
def make_channel(base: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def make(owner: User, name: str, kind: str = "public", member_ids: list[int] | None = None) -> dict[str, Any]:
        response = await owner.post(
            f"{base}/channels", json={"name": name, "kind": kind, "member_ids": member_ids or []}
        )
        assert response.status == 201, response.json
        return dict(response.json)

    return make


@pytest.fixture
def send(base: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def post(user: User, channel_id: int, body: str, client_id: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"body": body}
        if client_id is not None:
            payload["client_id"] = client_id
        response = await user.post(f"{base}/channels/{channel_id}/messages", json=payload)
        assert response.status == 201, response.json
        return dict(response.json)

    return post


async def outbox(sql: asyncpg.Connection, type: str) -> list[dict[str, Any]]:
    """The outbox rows of one event type, in seq order, with decoded JSON."""
    import orjson

    rows = await sql.fetch("SELECT seq, audience, data FROM events WHERE type = $1 ORDER BY org_id, seq", type)
    return [{"seq": r["seq"], "audience": orjson.loads(r["audience"]), "data": orjson.loads(r["data"])} for r in rows]
