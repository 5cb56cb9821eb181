"""Test helpers: an API client that signs in the way a script would (Bearer token)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quart import Quart

PASSWORD = "correct horse battery"


@dataclass
class Response:
    status: int
    json: Any
    headers: Any


@dataclass
class User:
    api: Api
    id: int
    email: str
    name: str
    token: str
    orgs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return await self.api.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", path, **kwargs)

    async def create_org(self, name: str, **extra: Any) -> dict[str, Any]:
        response = await self.post("/api/v1/orgs", json={"name": name, **extra})
        assert response.status == 201, response.json
        return dict(response.json)


class Api:
    def __init__(self, app: Quart) -> None:
        self.app = app

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        client = self.app.test_client()
        response = await client.open(path, method=method, **kwargs)
        body = await response.get_data()
        payload = None
        if response.mimetype == "application/json" and body:
            payload = await response.get_json()
        return Response(response.status_code, payload, response.headers)

    async def signup(self, email: str, name: str, password: str = PASSWORD) -> User:
        created = await self.request(
            "POST", "/api/v1/auth/register", json={"email": email, "password": password, "name": name}
        )
        assert created.status == 201, created.json
        return await self.login(email, password, name=name, user_id=created.json["id"])

    async def login(self, email: str, password: str = PASSWORD, *, name: str = "", user_id: int = 0) -> User:
        response = await self.request("POST", "/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status == 200, response.json
        return User(self, user_id, email, name, response.json["access_token"])

    async def add_member(self, owner: User, org: dict[str, Any], user: User, role: str) -> None:
        response = await owner.post(f"/api/v1/orgs/{org['slug']}/members", json={"email": user.email, "role": role})
        assert response.status == 201, response.json
