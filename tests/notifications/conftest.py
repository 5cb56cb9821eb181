"""Notification fixtures: Alice's org with Bob and Carol as members."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api, User


@pytest.fixture
async def carol(api: Api) -> User:
    return await api.signup("carol@example.com", "Carol Clark")


@pytest.fixture
async def team(api: Api, alice: User, bob: User, carol: User, org: dict[str, Any]) -> dict[str, User]:
    await api.add_member(alice, org, bob, "member")
    await api.add_member(alice, org, carol, "member")
    return {"alice": alice, "bob": bob, "carol": carol}


async def mention(user: User, base: str, channel_id: int, body: str) -> dict[str, Any]:
    response = await user.post(f"{base}/channels/{channel_id}/messages", json={"body": body})
    assert response.status == 201, response.json
    return dict(response.json)


@pytest.fixture
async def general(team: dict[str, User], base: str) -> dict[str, Any]:
    response = await team["alice"].post(f"{base}/channels", json={"name": "general"})
    assert response.status == 201, response.json
    return dict(response.json)
