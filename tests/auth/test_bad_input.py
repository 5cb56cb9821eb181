"""Malformed input to the auth routes gets a clear 4xx in DESIGN.md's error shape, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api, User

CASES: list[tuple[str, str, Any, int]] = [
    ("POST", "/api/v1/auth/refresh", {"refresh_token": 12}, 422),
    ("POST", "/api/v1/auth/refresh", {"refresh_token": "x", "extra": 1}, 422),
    ("POST", "/api/v1/auth/refresh", {"refresh_token": "x" * 10_000}, 422),
    ("POST", "/api/v1/auth/verify-email", {"token": None}, 422),
    ("POST", "/api/v1/auth/verify-email", {"token": "\u0000" * 20}, 400),
    ("POST", "/api/v1/auth/password-reset", {"email": ""}, 422),
    ("POST", "/api/v1/auth/password-reset/confirm", {"token": "t"}, 422),
    ("POST", "/api/v1/auth/password-reset/confirm", {"token": "t" * 43, "password": "long enough pw"}, 400),
    (
        "POST",
        "/api/v1/auth/register",
        {"email": "a@b.co", "password": "x" * 10, "name": "A", "invitation_token": ""},
        422,
    ),
    ("GET", "/api/v1/auth/oauth/oidc/callback?state=x", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CASES)
async def test_bad_auth_input_is_a_clear_4xx(api: Api, method: str, path: str, body: Any, status: int) -> None:
    response = await api.request(method, path, json=body) if body is not None else await api.request(method, path)
    assert response.status == status, response.json
    assert set(response.json["error"]) >= {"code", "message"}


async def test_non_json_bodies_are_400(api: Api) -> None:
    for path in ("/api/v1/auth/refresh", "/api/v1/auth/verify-email", "/api/v1/auth/password-reset"):
        response = await api.request("POST", path, data=b"{not json", headers={"Content-Type": "application/json"})
        assert response.status == 400, (path, response.json)
        assert response.json["error"]["code"] == "malformed_json"


async def test_overlong_session_ids_and_invitation_tokens_are_404_and_400(alice: User) -> None:
    response = await alice.delete("/api/v1/auth/sessions/" + "a" * 500)
    assert response.status == 404 and response.json["error"]["code"] == "session_not_found"
    accepted = await alice.post("/api/v1/invitations/accept", json={"token": "\u0000bad"})
    assert accepted.status == 400 and accepted.json["error"]["code"] == "invalid_token"
