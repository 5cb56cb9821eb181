"""crm.db's numbered fast path answers what `databases` answers."""

from __future__ import annotations

from databases import Database
from quart import Quart

from crm.db import fetch_all_numbered, numbered


def test_parameters_are_numbered_once_each_in_order_of_first_use() -> None:
    sql = "SELECT :b, x::text, CAST(:a AS int), :b, 'at 12:30', :a_b FROM t WHERE y = :a"
    assert numbered(sql) == (
        "SELECT $1, x::text, CAST($2 AS int), $1, 'at 12:30', $3 FROM t WHERE y = $2",
        ("b", "a", "a_b"),
    )


async def test_rows_are_those_of_fetch_all(app: Quart) -> None:
    db: Database = app.extensions["db"]
    sql = "SELECT g AS n, :word || g AS label, CAST(:flag AS boolean) AS flag FROM generate_series(1, :top) g"
    values = {"word": "row ", "flag": True, "top": 3}
    expected = [dict(row._mapping) for row in await db.fetch_all(sql, values)]
    assert await fetch_all_numbered(db, sql, values) == expected
    assert expected[2] == {"n": 3, "label": "row 3", "flag": True}
