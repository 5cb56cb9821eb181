"""Helpers for cache tests through the API: an org with one of every record, and its cached views."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tests.helpers import User


@dataclass
class Records:
    base: str
    contact: dict[str, Any]
    company: dict[str, Any]
    deal: dict[str, Any]
    activity: dict[str, Any]
    stage: dict[str, Any]

    def views(self) -> dict[str, str]:
        """Every cached GET of the org, by the view kind it is cached as."""
        b = self.base
        return {
            "contacts:list": f"{b}/contacts",
            "contacts:record": f"{b}/contacts/{self.contact['id']}",
            "companies:list": f"{b}/companies",
            "companies:record": f"{b}/companies/{self.company['id']}",
            "deals:list": f"{b}/deals",
            "deals:record": f"{b}/deals/{self.deal['id']}",
            "pipeline": f"{b}/pipeline",
            "stages:list": f"{b}/stages",
            "activities:list": f"{b}/activities",
            "activities:record": f"{b}/activities/{self.activity['id']}",
            "dashboard:stats": f"{b}/dashboard/stats",
            "dashboard:won-over-time": f"{b}/dashboard/won-over-time",
            "search": f"{b}/search?q=jane",
            "org": b,
            "members:list": f"{b}/members",
        }


async def created(user: User, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await user.post(path, json=body)
    assert response.status == 201, response.json
    return dict(response.json)


async def ok(user: User, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await user.request(method, path, json=body)
    assert response.status == 200, (path, response.json)
    return dict(response.json)


async def seed_records(user: User, org: dict[str, Any]) -> Records:
    base = f"/api/v1/orgs/{org['slug']}"
    company = await created(user, f"{base}/companies", {"name": "Globex Jane Ltd"})
    contact = await created(
        user, f"{base}/contacts", {"first_name": "Jane", "last_name": "Doe", "company_id": company["id"]}
    )
    deal = await created(user, f"{base}/deals", {"title": "Jane's deal", "amount": 1000})
    activity = await created(
        user, f"{base}/activities", {"type": "task", "subject": "Call Jane", "contact_id": contact["id"]}
    )
    stages = (await ok(user, "GET", f"{base}/stages"))["items"]
    return Records(base, contact, company, deal, activity, stages[0])


async def outcomes(user: User, views: dict[str, str]) -> dict[str, str]:
    """X-Cache of each view's GET (each GET also fills the cache again)."""
    seen = {}
    for kind, path in views.items():
        response = await user.get(path)
        assert response.status == 200, (path, response.json)
        seen[kind] = response.headers["X-Cache"]
    return seen


def misses(seen: dict[str, str]) -> set[str]:
    return {kind for kind, outcome in seen.items() if outcome == "miss"}


async def until_cached(user: User, path: str, check: Any) -> None:
    """GET until the answer is a cache hit again (the breaker closes within about a second);
    every answer on the way must pass `check`."""
    async with asyncio.timeout(10):
        while True:
            response = await user.get(path)
            assert response.status == 200, response.json
            check(response.json)
            if response.headers["X-Cache"] == "hit":
                return
            await asyncio.sleep(0.05)


async def expire_fences(hub: Any, owner: Any, *domains: str) -> None:
    """What FENCE_MS does to the fence of a writer that died before its bump."""
    from crm.cache import keys

    await hub.client.delete(*(keys.fence_key(owner, domain) for domain in domains))
