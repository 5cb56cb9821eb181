"""The baseline: a bare Quart app answering the contact route with the same JSON, no auth, no database.

Run by `bench api` as `uvicorn bench.bare_app:app`; the body comes from the file in BENCH_BARE_JSON.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from quart import Quart

from crm.jsonprovider import OrjsonProvider

app = Quart(__name__)
app.json = OrjsonProvider(app)
BODY: dict[str, Any] = orjson.loads(Path(os.environ["BENCH_BARE_JSON"]).read_bytes())


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/v1/orgs/<org>/contacts/<int:contact_id>")
async def contact(org: str, contact_id: int) -> dict[str, Any]:
    return BODY
