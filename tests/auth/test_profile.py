"""A user changes their own name and password."""

from __future__ import annotations

from tests.helpers import PASSWORD, Api, User


async def test_user_renames_themselves(alice: User) -> None:
    response = await alice.patch("/api/v1/me", json={"name": "Alice A. Adams"})
    assert response.status == 200
    assert response.json["name"] == "Alice A. Adams"
    assert (await alice.get("/api/v1/me")).json["name"] == "Alice A. Adams"
    empty = await alice.patch("/api/v1/me", json={"name": ""})
    assert empty.status == 422 and "name" in empty.json["error"]["fields"]


async def test_password_change_needs_the_current_one_and_signs_out_other_sessions(api: Api, alice: User) -> None:
    other = await api.login(alice.email)
    wrong = await alice.post("/api/v1/auth/password", json={"current_password": "nope", "password": "brand new pass"})
    assert wrong.status == 422 and wrong.json["error"]["fields"] == {"current_password": "is not right"}
    changed = await alice.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "password": "brand new pass"}
    )
    assert changed.status == 200 and changed.json["signed_out_sessions"] == 1
    assert (await alice.get("/api/v1/me")).status == 200  # this session stays
    assert (await other.get("/api/v1/me")).status == 401  # the other one is gone
    old = await api.request("POST", "/api/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert old.status == 401
    new = await api.request("POST", "/api/v1/auth/login", json={"email": alice.email, "password": "brand new pass"})
    assert new.status == 200
