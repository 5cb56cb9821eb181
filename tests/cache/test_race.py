"""Race proof on the real engines: no read that starts after a write finished sees an older value.

Writers bump `orgs.version` in a transaction and bump the `org` generation after
commit; a write is *finished* once its bump returned (what a client sees when its
PATCH answered). Readers note the newest finished version when they start and
check that what the cache answers is at least that.

The correct order reads the generation before the query. The broken order (query
first, then read the generation and store under it) can store a value computed
before a write under the generation after that write, which is then served as
fresh: `test_the_broken_order_serves_stale_reads` shows that this test catches it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from databases import Database

from crm.cache import keys
from crm.cache.store import CacheStore
from tests.cache.conftest import make_org

DIGEST = keys.digest({})
ROUNDS_PER_READER = 250
ROUNDS_PER_WRITER = 120


@dataclass
class Race:
    finished: int = 1
    reads: int = 0
    stale: int = 0
    hits: int = 0


async def select_version(db: Database, org_id: int) -> bytes:
    return str(await db.fetch_val("SELECT version FROM orgs WHERE id = :id", {"id": org_id})).encode()


async def write(db: Database, store: CacheStore, org_id: int, race: Race) -> None:
    async with db.transaction():
        version = await db.fetch_val(
            "UPDATE orgs SET version = version + 1 WHERE id = :id RETURNING version", {"id": org_id}
        )
    await store.bump(org_id, ["org"])
    race.finished = max(race.finished, int(version))


async def read_correct(db: Database, store: CacheStore, org_id: int) -> tuple[int, str]:
    raw, outcome = await store.get_or_compute(
        org_id=org_id, kind="org", depends=("org",), digest=DIGEST, ttl=60, compute=lambda: select_version(db, org_id)
    )
    return int(raw), outcome


async def read_broken(db: Database, store: CacheStore, org_id: int) -> tuple[int, str]:
    """The classic bug: on a miss, query first and read the generation only to store the result."""
    found = await store.lookup(org_id, "org", ("org",), DIGEST)
    if found.value is not None:
        return int(found.value), "hit"
    value = await select_version(db, org_id)
    later = await store.lookup(org_id, "org", ("org",), DIGEST)
    if later.token is not None:
        await store.store(org_id, "org", later.token, DIGEST, value, 60)
    return int(value), "miss"


async def run(db: Database, store: CacheStore, org_id: int, reader, *, writers: int = 6, readers: int = 12) -> Race:  # type: ignore[no-untyped-def]
    race = Race()

    async def writer_loop() -> None:
        for _ in range(ROUNDS_PER_WRITER):
            await write(db, store, org_id, race)

    async def reader_loop() -> None:
        for _ in range(ROUNDS_PER_READER):
            floor = race.finished
            value, outcome = await reader(db, store, org_id)
            race.reads += 1
            race.hits += outcome == "hit"
            race.stale += value < floor

    async with asyncio.timeout(60):
        await asyncio.gather(*(writer_loop() for _ in range(writers)), *(reader_loop() for _ in range(readers)))
    return race


async def test_no_read_after_a_finished_write_is_stale(db: Database, store: CacheStore) -> None:
    org_id = await make_org(db, "race-correct")
    race = await run(db, store, org_id, read_correct)
    assert race.reads == 12 * ROUNDS_PER_READER
    assert race.hits > 0  # the cache was really in play
    assert race.stale == 0


async def test_the_broken_order_serves_stale_reads(db: Database, store: CacheStore) -> None:
    org_id = await make_org(db, "race-broken")
    for _attempt in range(3):  # random schedules: one run nearly always suffices, three make it certain enough
        race = await run(db, store, org_id, read_broken)
        if race.stale:
            break
    assert race.hits > 0
    print(f"broken order: {race.stale} stale of {race.reads} reads ({race.hits} hits)")
    assert race.stale > 0, "the race test could not tell the broken order from the correct one"
