"""The window between a write's commit and its bump (crm/uow.py).

The bump runs after the commit; until it lands Redis still holds the old generation and the
old entry. The writer's fence, set just before the commit, makes every read of the written
domains bypass the cache until the bump, so a read that begins after the commit sees it.
Each test holds a PATCH between its commit and its bump and reads in that window.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from crm import cache
from crm.uow import WriteTransaction
from tests.cache.support import created
from tests.helpers import User


async def read_in_the_window(alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(version read between the PATCH's commit and its bump, version read after its bump)."""
    base = f"/api/v1/orgs/{org['slug']}/contacts"
    contact = await created(alice, base, {"first_name": "Win", "last_name": "Dow"})
    path = f"{base}/{contact['id']}"
    assert (await alice.get(path)).headers["X-Cache"] == "miss"
    assert (await alice.get(path)).headers["X-Cache"] == "hit"

    committed, release = asyncio.Event(), asyncio.Event()
    after_commit = WriteTransaction.after_commit

    async def held(self: WriteTransaction) -> None:
        committed.set()
        await release.wait()
        await after_commit(self)

    monkeypatch.setattr(WriteTransaction, "after_commit", held)
    patch = asyncio.create_task(alice.patch(path, json={"title": "Dean", "version": 1}))
    await asyncio.wait_for(committed.wait(), 10)
    during = await alice.get(path)
    release.set()
    patched = await patch
    assert patched.status == 200, patched.json
    after = await alice.get(path)
    return int(during.json["version"]), int(after.json["version"])


async def test_a_read_between_commit_and_bump_sees_the_write(
    alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await read_in_the_window(alice, org, monkeypatch) == (2, 2)


async def test_without_the_fence_that_read_is_stale(
    alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same read with fences that never land (as when the writer cannot reach Redis):
    the old entry is served. This is what the fence closes, and what proves the test above
    can fail."""

    async def no_fence(*_args: Any, **_kwargs: Any) -> bool:
        return False

    monkeypatch.setattr(cache, "fence", no_fence)
    assert await read_in_the_window(alice, org, monkeypatch) == (1, 2)


async def test_a_commit_that_landed_but_raised_is_bumped_not_unfenced(
    app: Any, alice: User, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COMMIT reaches PostgreSQL, then the connection fails before its answer: the write
    may have landed, so crm.uow bumps as if it had (giving its fence back). Were it treated as
    a rollback (fence given back, no bump), the old entry would be served."""
    from databases.core import Transaction

    from crm.uow import write_transaction

    base = f"/api/v1/orgs/{org['slug']}/contacts"
    contact = await created(alice, base, {"first_name": "Com", "last_name": "Mit"})
    path = f"{base}/{contact['id']}"
    await alice.get(path)
    assert (await alice.get(path)).headers["X-Cache"] == "hit"

    commit = Transaction.commit

    async def commit_then_fail(self: Transaction) -> None:
        await commit(self)
        raise ConnectionResetError("the answer to COMMIT was lost")

    monkeypatch.setattr(Transaction, "commit", commit_then_fail)
    db = app.extensions["db"]
    with pytest.raises(ConnectionResetError):
        async with app.app_context(), write_transaction(db) as tx:
            await db.execute(
                "UPDATE contacts SET title = 'Lost', version = version + 1 WHERE org_id = :org AND id = :id",
                {"org": org["id"], "id": contact["id"]},
            )
            tx.invalidate(org["id"], "contacts")
    monkeypatch.undo()

    fresh = await alice.get(path)
    assert (fresh.json["title"], fresh.json["version"]) == ("Lost", 2)
    assert fresh.headers["X-Cache"] == "miss"
    assert (await alice.get(path)).headers["X-Cache"] == "hit"  # the fence was given back with the bump
