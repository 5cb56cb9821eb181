"""PostgreSQL access: one `databases.Database` per process, plain SQL, and the migrator."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
from databases import Database
from quart import current_app

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_ID = 0x7C3A_0001

Row = Mapping[str, Any]

# A :name parameter as SQLAlchemy's text() finds one (not a :: cast, not inside a word).
BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def database_from_url(url: str, *, min_size: int = 2, max_size: int = 10) -> Database:
    return Database(url, min_size=min_size, max_size=max_size)


def get_db() -> Database:
    """The app's database handle (use inside a request or app context)."""
    db: Database = current_app.extensions["db"]
    return db


@functools.lru_cache(maxsize=1024)  # list pages: sorts x filters x cursor x q
def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with its :name parameters written $1, $2, ... and the names in that order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return BIND.sub(number, sql), tuple(names)


async def fetch_all_numbered(db: Database, sql: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows `db.fetch_all(sql, values)` answers, for a long statement on a hot path:
    `databases` has SQLAlchemy parse and compile the text on every call, about 1 ms of
    Python for search's 80-odd parameters; this numbers the parameters once per statement
    and hands the values to the task's asyncpg connection (the same connection, transaction
    and prepared-statement cache as the `databases` calls around it)."""
    text, names = numbered(sql)
    async with db.connection() as connection:
        rows = await connection.raw_connection.fetch(text, *(values[name] for name in names))
    return [dict(row) for row in rows]


def asyncpg_dsn(url: str) -> str:
    """`databases` accepts postgresql+asyncpg:// style URLs; asyncpg wants plain ones."""
    for prefix in ("postgresql+asyncpg://", "postgres+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    files = sorted(p for p in directory.glob("*.sql") if p.name[:4].isdigit())
    names = [p.name[:4] for p in files]
    if len(names) != len(set(names)):
        raise RuntimeError(f"duplicate migration numbers in {directory}")
    return files


async def migrate(url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order, each in its own transaction, under an
    advisory lock so that instances starting together migrate once."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for path in migration_files(directory):
                if path.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
                applied_now.append(path.name)
                log.info("applied migration %s", path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    finally:
        await conn.close()
    return applied_now


async def ping(db: Database) -> None:
    await db.fetch_val("SELECT 1")
