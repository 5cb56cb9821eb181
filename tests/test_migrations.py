"""Migrations: applied in order, once each, safe when processes race."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys

import asyncpg

from crm.db import asyncpg_dsn, migrate, migration_files
from tests.dbtools import _with_database


async def _fresh_database(server_url: str) -> tuple[str, str]:
    name = f"tc_mig_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name, _with_database(server_url, name)


async def _drop(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(engines: dict[str, str]) -> None:
    name, url = await _fresh_database(engines["database"])
    try:
        code = "import asyncio, sys; from crm.db import migrate; print(len(asyncio.run(migrate(sys.argv[1]))))"
        procs = [
            subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        results = [await asyncio.to_thread(p.communicate, timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [r[1].decode()[-2000:] for r in results]
        applied_counts = sorted(int(out.decode().strip().splitlines()[-1]) for out, _ in results)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        names = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        await conn.close()
        # exactly one process applied everything; the others found nothing left to do
        assert applied_counts == [0, 0, len(names)]
        assert names == [p.name for p in migration_files()]
    finally:
        await _drop(engines["database"], name)


async def test_migrate_again_is_a_no_op(engines: dict[str, str]) -> None:
    name, url = await _fresh_database(engines["database"])
    try:
        assert len(await migrate(url)) == len(migration_files())
        assert await migrate(url) == []
    finally:
        await _drop(engines["database"], name)
