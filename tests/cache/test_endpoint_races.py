"""Race proof per cached endpoint family, through the API on the real engines.

Writers change records concurrently; a write is finished when its response came
back. Each reader notes, before it sends its GET, what the finished writes
guarantee (a version, a count), and checks the answer against it. Any answer
older than a write that finished before the read started is a stale read.

The two interleaving tests force the losing schedule (a reader's query, then a
write finishes, then the reader stores): the correct order never serves that
result afterwards; the classic bug (query first, read the generation after, as in
`broken_get_or_compute`) does. tests/cache/test_race.py also runs the broken order
through thousands of random interleavings and sees it serve stale reads.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from crm.cache.store import CacheStore
from tests.cache.support import created, ok
from tests.helpers import User

WRITERS = 4
READERS = 12
WRITES_EACH = 50
READS_EACH = 80


@dataclass
class Tally:
    floors: dict[Any, int] = field(default_factory=dict)
    reads: int = 0
    hits: int = 0
    stale: int = 0


async def race(
    tally: Tally,
    write: Callable[[int, int], Awaitable[None]],
    read: Callable[[dict[Any, int]], Awaitable[tuple[int, str]]],
) -> Tally:
    """Run WRITERS x WRITES_EACH writes against READERS x READS_EACH reads; `read` answers (stale count, X-Cache)."""

    async def writer(w: int) -> None:
        for n in range(WRITES_EACH):
            await write(w, n)

    async def reader() -> None:
        for _ in range(READS_EACH):
            floors = dict(tally.floors)
            stale, outcome = await read(floors)
            tally.reads += 1
            tally.hits += outcome == "hit"
            tally.stale += stale

    async with asyncio.timeout(120):
        await asyncio.gather(*(writer(w) for w in range(WRITERS)), *(reader() for _ in range(READERS)))
    assert tally.reads == READERS * READS_EACH
    assert tally.hits > 0, "the cache was never used: the race proves nothing"
    return tally


async def record_race(alice: User, org: dict[str, Any], kind: str, body: dict[str, Any], field_name: str) -> Tally:
    """Each writer PATCHes its own record; readers GET a random one and expect at least its finished version."""
    base = f"/api/v1/orgs/{org['slug']}/{kind}"
    records = [await created(alice, base, body) for _ in range(WRITERS)]
    tally = Tally({r["id"]: r["version"] for r in records})

    async def write(w: int, n: int) -> None:
        record_id = records[w]["id"]
        changed = await ok(
            alice, "PATCH", f"{base}/{record_id}", {field_name: f"v{n}", "version": tally.floors[record_id]}
        )
        tally.floors[record_id] = changed["version"]

    async def read(floors: dict[Any, int]) -> tuple[int, str]:
        record_id = random.choice(records)["id"]
        response = await alice.get(f"{base}/{record_id}")
        assert response.status == 200
        return int(response.json["version"] < floors[record_id]), response.headers["X-Cache"]

    return await race(tally, write, read)


RECORDS = [
    ("contacts", {"first_name": "Rae", "last_name": "Racer"}, "title"),
    ("companies", {"name": "Racing Ltd"}, "phone"),
    ("deals", {"title": "Race deal", "amount": 10}, "title"),
    ("activities", {"type": "note", "subject": "Race"}, "subject"),
]


@pytest.mark.parametrize(("kind", "body", "field_name"), RECORDS, ids=[r[0] for r in RECORDS])
async def test_no_record_read_is_older_than_a_finished_write(
    alice: User, org: dict[str, Any], kind: str, body: dict[str, Any], field_name: str
) -> None:
    tally = await record_race(alice, org, kind, body, field_name)
    assert tally.stale == 0


async def test_no_list_page_is_older_than_a_finished_write(alice: User, org: dict[str, Any]) -> None:
    base = f"/api/v1/orgs/{org['slug']}/contacts"
    records = [await created(alice, base, {"first_name": f"L{w}", "last_name": "Lister"}) for w in range(WRITERS)]
    tally = Tally({r["id"]: r["version"] for r in records})

    async def write(w: int, n: int) -> None:
        record_id = records[w]["id"]
        changed = await ok(
            alice, "PATCH", f"{base}/{record_id}", {"title": f"v{n}", "version": tally.floors[record_id]}
        )
        tally.floors[record_id] = changed["version"]

    async def read(floors: dict[Any, int]) -> tuple[int, str]:
        response = await alice.get(f"{base}?limit=200&sort=name")
        assert response.status == 200
        seen = {c["id"]: c["version"] for c in response.json["items"]}
        return sum(seen[i] < floor for i, floor in floors.items()), response.headers["X-Cache"]

    assert (await race(tally, write, read)).stale == 0


async def test_no_search_result_is_older_than_a_finished_write(alice: User, org: dict[str, Any]) -> None:
    base = f"/api/v1/orgs/{org['slug']}"
    records = [
        await created(alice, f"{base}/contacts", {"first_name": f"S{w}", "last_name": "Seeker", "title": "t1"})
        for w in range(WRITERS)
    ]
    tally = Tally({r["id"]: 1 for r in records})
    versions = {r["id"]: r["version"] for r in records}

    async def write(w: int, n: int) -> None:
        record_id = records[w]["id"]
        body = {"title": f"t{n + 2}", "version": versions[record_id]}
        versions[record_id] = (await ok(alice, "PATCH", f"{base}/contacts/{record_id}", body))["version"]
        tally.floors[record_id] = n + 2

    async def read(floors: dict[Any, int]) -> tuple[int, str]:
        response = await alice.get(f"{base}/search?q=seeker")
        assert response.status == 200
        seen = {hit["id"]: int(hit["subtitle"].rsplit("t", 1)[1]) for hit in response.json["items"]}
        return sum(seen[i] < floor for i, floor in floors.items()), response.headers["X-Cache"]

    assert (await race(tally, write, read)).stale == 0


async def test_no_pipeline_is_older_than_a_finished_write(alice: User, org: dict[str, Any]) -> None:
    base = f"/api/v1/orgs/{org['slug']}"
    records = [await created(alice, f"{base}/deals", {"title": f"P{w}", "amount": 1}) for w in range(WRITERS)]
    tally = Tally({r["id"]: r["version"] for r in records})

    async def write(w: int, n: int) -> None:
        record_id = records[w]["id"]
        changed = await ok(
            alice, "PATCH", f"{base}/deals/{record_id}", {"amount": n + 2, "version": tally.floors[record_id]}
        )
        tally.floors[record_id] = changed["version"]

    async def read(floors: dict[Any, int]) -> tuple[int, str]:
        response = await alice.get(f"{base}/pipeline")
        assert response.status == 200
        seen = {d["id"]: d["version"] for stage in response.json["stages"] for d in stage["deals"]}
        return sum(seen[i] < floor for i, floor in floors.items()), response.headers["X-Cache"]

    assert (await race(tally, write, read)).stale == 0


async def test_no_dashboard_stats_are_older_than_a_finished_write(alice: User, org: dict[str, Any]) -> None:
    base = f"/api/v1/orgs/{org['slug']}"
    tally = Tally({"contacts": 0})

    async def write(w: int, n: int) -> None:
        await created(alice, f"{base}/contacts", {"first_name": f"D{w}", "last_name": f"N{n}"})
        tally.floors["contacts"] += 1  # at least this many creates have finished

    async def read(floors: dict[Any, int]) -> tuple[int, str]:
        response = await alice.get(f"{base}/dashboard/stats")
        assert response.status == 200
        return int(response.json["contacts"] < floors["contacts"]), response.headers["X-Cache"]

    assert (await race(tally, write, read)).stale == 0


async def broken_get_or_compute(
    self: CacheStore,
    *,
    org_id: int,
    kind: str,
    depends: Any,
    digest: str,
    ttl: int,
    compute: Any,
    single_flight: bool = True,
) -> tuple[bytes, str]:
    """The classic bug: on a miss, query first, then read the generation and store under it."""
    found = await self.lookup(org_id, kind, depends, digest)
    if found.value is not None:
        return found.value, "hit"
    value = await compute()
    later = await self.lookup(org_id, kind, depends, digest)
    if later.token is not None:
        await self.store(org_id, kind, later.token, digest, value, ttl)
    return value, "miss"


async def interleaved_read_around_a_write(alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> int:
    """The race forced: a reader's query runs, then a write commits and answers, then the reader
    stores its result. Answers the version a GET sent after all that returns (the write made it 2)."""
    base = f"/api/v1/orgs/{org['slug']}/contacts"
    contact = await created(alice, base, {"first_name": "Ira", "last_name": "Interleaved"})
    queried, written = asyncio.Event(), asyncio.Event()
    get_or_compute = CacheStore.get_or_compute

    async def paused(self: CacheStore, **kwargs: Any) -> tuple[bytes, str]:
        compute = kwargs["compute"]

        async def query_then_wait() -> bytes:
            value = await compute()
            queried.set()
            await written.wait()
            return value

        return await get_or_compute(self, **{**kwargs, "compute": query_then_wait})

    monkeypatch.setattr(CacheStore, "get_or_compute", paused)
    slow_read = asyncio.create_task(alice.get(f"{base}/{contact['id']}"))
    async with asyncio.timeout(10):
        await queried.wait()
    await ok(alice, "PATCH", f"{base}/{contact['id']}", {"title": "CTO", "version": 1})
    written.set()
    assert (await slow_read).json["version"] == 1  # it started before the write: fine
    monkeypatch.setattr(CacheStore, "get_or_compute", get_or_compute)
    return int((await alice.get(f"{base}/{contact['id']}")).json["version"])


async def test_a_read_whose_query_straddles_a_write_is_never_served_after_it(
    alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await interleaved_read_around_a_write(alice, org, monkeypatch) == 2


async def test_the_broken_order_serves_the_straddling_read_as_stale(
    alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CacheStore, "get_or_compute", broken_get_or_compute)
    assert await interleaved_read_around_a_write(alice, org, monkeypatch) == 1
