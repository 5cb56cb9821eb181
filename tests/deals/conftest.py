"""Fixtures for deals, stages and the board: an org with members, SQL access to check what was written."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.helpers import Api, User

COUNTED_TABLES = ("deals", "activities", "events", "pipeline_stages")


@pytest.fixture
async def stages(alice: User, base: str) -> list[dict[str, Any]]:
    response = await alice.get(f"{base}/stages")
    assert response.status == 200, response.json
    return list(response.json["items"])


@pytest.fixture
def stage_ids(stages: list[dict[str, Any]]) -> dict[str, int]:
    """Default pipeline stage ids by name: Lead, Qualified, Proposal, Negotiation, Won, Lost."""
    return {stage["name"]: stage["id"] for stage in stages}


@pytest.fixture
async def other_org(bob: User) -> dict[str, Any]:
    """Bob's own org, which Alice is not in."""
    return await bob.create_org("Rival Corp")


@pytest.fixture
async def viewer(api: Api, alice: User, org: dict[str, Any]) -> User:
    user = await api.signup("vera@example.com", "Vera Viewer")
    await api.add_member(alice, org, user, "viewer")
    return user


@pytest.fixture
async def member(api: Api, alice: User, org: dict[str, Any]) -> User:
    user = await api.signup("mo@example.com", "Mo Member")
    await api.add_member(alice, org, user, "member")
    return user


async def new_deal(user: User, base: str, **fields: Any) -> dict[str, Any]:
    response = await user.post(f"{base}/deals", json={"title": "Deal", **fields})
    assert response.status == 201, response.json
    return dict(response.json)


async def new_company(sql: asyncpg.Connection, org_id: int, name: str = "Globex") -> int:
    return int(await sql.fetchval("INSERT INTO companies (org_id, name) VALUES ($1, $2) RETURNING id", org_id, name))


async def new_contact(sql: asyncpg.Connection, org_id: int, last_name: str = "Doe") -> int:
    return int(
        await sql.fetchval(
            "INSERT INTO contacts (org_id, first_name, last_name) VALUES ($1, 'Jane', $2) RETURNING id",
            org_id,
            last_name,
        )
    )


async def table_counts(sql: asyncpg.Connection) -> dict[str, int]:
    return {table: int(await sql.fetchval(f"SELECT count(*) FROM {table}")) for table in COUNTED_TABLES}


async def column_order(sql: asyncpg.Connection, org_id: int, stage_id: int) -> list[int]:
    rows = await sql.fetch(
        "SELECT id FROM deals WHERE org_id = $1 AND stage_id = $2 ORDER BY position", org_id, stage_id
    )
    return [row["id"] for row in rows]
