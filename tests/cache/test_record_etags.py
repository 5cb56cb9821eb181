"""A record's ETag works both ways: If-None-Match revalidates, If-Match guards a PATCH."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import User


@pytest.mark.parametrize(
    ("kind", "body", "change"),
    [
        ("contacts", {"first_name": "Ada", "last_name": "Lovelace"}, {"title": "Countess"}),
        ("companies", {"name": "Acme"}, {"phone": "+44 1"}),
        ("deals", {"title": "Renewal", "amount": 1000}, {"amount": 2000}),
        ("activities", {"type": "note", "subject": "Met"}, {"body": "went well"}),
    ],
)
async def test_patch_with_the_etag_of_a_get(
    alice: User, org: dict[str, Any], kind: str, body: dict[str, Any], change: dict[str, Any]
) -> None:
    base = f"/api/v1/orgs/{org['slug']}/{kind}"
    created = await alice.post(base, json=body)
    assert created.status == 201, created.json
    url = f"{base}/{created.json['id']}"
    first = await alice.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"1-')
    unchanged = await alice.get(url, headers={"If-None-Match": etag})
    assert unchanged.status == 304
    patched = await alice.patch(url, json=change, headers={"If-Match": etag})
    assert patched.status == 200, patched.json
    assert patched.json["version"] == 2
    stale = await alice.patch(url, json=change, headers={"If-Match": etag})
    assert stale.status == 409
    assert stale.json["error"]["code"] == "version_conflict"
    fresh = await alice.get(url, headers={"If-None-Match": etag})
    assert fresh.status == 200 and fresh.headers["ETag"].startswith('"2-')
