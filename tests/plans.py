"""EXPLAIN a statement in the generic plan that a prepared statement runs under
plan_cache_mode = force_generic_plan (EXPLAIN with values plans for those values)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from databases import Database

BIND = re.compile(r"(?<![:\w]):(\w+)")  # a :name parameter as SQLAlchemy's text() reads it


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def explain_generic(db: Database, sql: str, values: Mapping[str, Any], *, analyze: bool = False) -> Any:
    """The generic plan of `sql` (FORMAT JSON, parsed), run with `values` when `analyze`."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    numbered = BIND.sub(number, sql)
    literals = ", ".join("NULL" if values[n] is None else quote(str(values[n])) for n in names)
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    async with db.connection() as connection, connection.transaction():
        raw = connection.raw_connection
        await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await raw.execute(f"PREPARE plan_check AS {numbered}")
        try:
            plan = await raw.fetchval(f"EXPLAIN ({options}) EXECUTE plan_check({literals})")
        finally:
            await raw.execute("DEALLOCATE plan_check")
    return plan if isinstance(plan, list) else json.loads(plan)


def plan_nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of a FORMAT JSON plan, depth first."""
    if isinstance(plan, dict):
        if "Node Type" in plan:
            yield plan
        for value in plan.values():
            yield from plan_nodes(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from plan_nodes(value)
