"""Values PostgreSQL cannot store are the client's problem: a 422, nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import User


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/orgs", {"name": "Nul\u0000Org"}),
        ("contacts", {"first_name": "Ada\u0000", "last_name": "L"}),
        ("companies", {"name": "Nul\u0000 Ltd"}),
    ],
)
async def test_a_nul_character_is_a_422_not_a_500(alice: User, org: dict[str, Any], path: str, body: Any) -> None:
    url = path if path.startswith("/") else f"/api/v1/orgs/{org['slug']}/{path}"
    response = await alice.post(url, json=body)
    assert response.status == 422, response.json
    assert response.json["error"]["code"] in ("invalid_value", "validation_error")
    me = await alice.get("/api/v1/me")
    assert [o["slug"] for o in me.json["orgs"]] == [org["slug"]]
