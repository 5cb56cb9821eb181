"""Race proof for GET /me, in the style of tests/cache/test_endpoint_races.py.

Three members of one org rename themselves while the org's owner renames the org; readers
GET a random member's /me and check it against what the finished writes guarantee: the
member's name and the org's name are at least as new as the last rename of each that had
answered before the GET was sent. The first is the user's own cached entry (the `me`
generation), the second the org's metadata view (the `org` generation) that /me is built
from, so both halves of /me's freshness are raced.

The interleaving tests force the losing schedule on the user's entry: the correct order
never serves the straddling read afterwards, the classic bug does.
"""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest

from crm.cache.store import CacheStore
from tests.cache.support import ok
from tests.cache.test_endpoint_races import WRITERS, Tally, broken_get_or_compute, race
from tests.helpers import Api, User

ME = "/api/v1/me"
ORG_WRITER = WRITERS - 1  # the last writer renames the org; the others rename themselves


def number(name: str) -> int:
    """The n of a name written as `... n<n>`; -1 for the name it started with."""
    found = re.search(r" n(\d+)$", name)
    return int(found.group(1)) if found else -1


async def test_no_me_is_older_than_a_finished_rename_of_the_user_or_their_org(
    api: Api, alice: User, org: dict[str, Any]
) -> None:
    members = [alice]
    for w in range(1, ORG_WRITER):
        member = await api.signup(f"racer{w}@example.com", f"Racer {w}")
        await api.add_member(alice, org, member, "member")
        members.append(member)
    tally = Tally({**{("user", w): -1 for w in range(ORG_WRITER)}, "org": -1})
    org_path = f"/api/v1/orgs/{org['slug']}"

    async def write(w: int, n: int) -> None:
        if w == ORG_WRITER:
            await ok(alice, "PATCH", org_path, {"name": f"Racing Org n{n}"})
            tally.floors["org"] = n
        else:
            await ok(members[w], "PATCH", ME, {"name": f"Racer {w} n{n}"})
            tally.floors[("user", w)] = n

    async def read(floors: dict[Any, int]) -> tuple[int, str]:
        w = random.randrange(ORG_WRITER)
        response = await members[w].get(ME)
        assert response.status == 200, response.json
        (listed,) = response.json["orgs"]
        stale = number(response.json["name"]) < floors[("user", w)]
        stale_org = number(listed["name"]) < floors["org"]
        return int(stale) + int(stale_org), response.headers["X-Cache"]

    assert (await race(tally, write, read)).stale == 0


async def interleaved_me_around_a_rename(alice: User, monkeypatch: pytest.MonkeyPatch) -> str:
    """A /me read queries the user, then a rename commits and answers, then the read stores its
    result. Answers the name a GET sent after all that shows."""
    queried, written = asyncio.Event(), asyncio.Event()
    get_or_compute = CacheStore.get_or_compute
    paused_once = False

    async def paused(self: CacheStore, **kwargs: Any) -> tuple[bytes, str]:
        nonlocal paused_once
        if kwargs["kind"] != "me" or paused_once:
            return await get_or_compute(self, **kwargs)
        paused_once = True
        compute = kwargs["compute"]

        async def query_then_wait() -> bytes:
            value = await compute()
            queried.set()
            await written.wait()
            return value

        return await get_or_compute(self, **{**kwargs, "compute": query_then_wait})

    monkeypatch.setattr(CacheStore, "get_or_compute", paused)
    slow_read = asyncio.create_task(alice.get(ME))
    async with asyncio.timeout(10):
        await queried.wait()
    await ok(alice, "PATCH", ME, {"name": "Alice Renamed"})
    written.set()
    assert (await slow_read).json["name"] == "Alice Adams"  # it started before the rename: fine
    monkeypatch.setattr(CacheStore, "get_or_compute", get_or_compute)
    return str((await alice.get(ME)).json["name"])


async def test_a_me_read_whose_query_straddles_a_rename_is_never_served_after_it(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await interleaved_me_around_a_rename(alice, monkeypatch) == "Alice Renamed"


async def test_the_broken_order_serves_the_straddling_me_as_stale(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CacheStore, "get_or_compute", broken_get_or_compute)
    assert await interleaved_me_around_a_rename(alice, monkeypatch) == "Alice Adams"
