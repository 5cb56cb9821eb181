"""Test database plumbing: a migrated template per migration set, a clone per worker."""

from __future__ import annotations

import asyncio
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from crm.db import MIGRATIONS_DIR, asyncpg_dsn, migrate, migration_files

TEMPLATE_LOCK = 0x7C3A_7E57


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(asyncpg_dsn(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def migrations_digest() -> str:
    digest = hashlib.sha256()
    for path in migration_files(MIGRATIONS_DIR):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


async def _prepare(server_url: str, worker_db: str) -> str:
    template = f"tc_tpl_{migrations_digest()}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await admin.execute("SELECT pg_advisory_lock($1)", TEMPLATE_LOCK)
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", template):
                await admin.execute(f'CREATE DATABASE "{template}"')
                try:
                    await migrate(_with_database(server_url, template))
                except BaseException:
                    await admin.execute(f'DROP DATABASE "{template}"')
                    raise
            await admin.execute(f'DROP DATABASE IF EXISTS "{worker_db}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{worker_db}" TEMPLATE "{template}"')
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1)", TEMPLATE_LOCK)
    finally:
        await admin.close()
    return _with_database(server_url, worker_db)


def worker_database(server_url: str, worker_db: str) -> str:
    # its own thread and loop: fixtures may be resolved while pytest-asyncio's loop runs
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _prepare(server_url, worker_db)).result()


def worker_redis_url(server_url: str, worker: int) -> str:
    """The worker's own logical Redis database (1..15), leaving db 0 to humans.

    TINYCRM_TEST_REDIS_DB_OFFSET shifts the range, so that two test runs on one machine (each
    with its own TINYCRM_TEST_DB_PREFIX) do not flush each other's Redis."""
    db = 1 + (worker + int(os.environ.get("TINYCRM_TEST_REDIS_DB_OFFSET", "0"))) % 15
    if server_url.startswith("unix://"):
        base, _, _ = server_url.partition("?")
        return f"{base}?db={db}"
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


_TABLES: dict[str, str] = {}


async def truncate_all(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        key = database_url
        if key not in _TABLES:
            names = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
            _TABLES[key] = ", ".join(f'"{r["tablename"]}"' for r in names)
        # Ids keep counting up across a worker's tests: the long-lived uvicorn instances keep
        # per-org state (event watermarks, presence) that a reused org id would inherit.
        # A server from an earlier test (a relay, a reminder sweep) may still be writing: TRUNCATE's
        # exclusive locks can then deadlock with it, and PostgreSQL cancels one side. Ours retries.
        for attempt in range(5):
            try:
                await conn.execute(f"TRUNCATE {_TABLES[key]} CASCADE")
                return
            except asyncpg.DeadlockDetectedError:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
    finally:
        await conn.close()
