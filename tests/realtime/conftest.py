"""Real instances for realtime tests: uvicorn subprocesses sharing the test PostgreSQL and Redis.

`instances` starts two (A and B) per test module; `spawn` starts more (to kill
one, or to point one at a throwaway Redis). Users sign up over HTTP and connect
socket.io with `auth: {token}` through python-socketio's AsyncClient.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from quart import Quart

from crm.auth import service as auth_service
from crm.config import Config

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """One `uvicorn crm.asgi:app` process."""

    def __init__(self, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> Instance:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "crm.asgi:app", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=self.env,
        )
        async with aiohttp.ClientSession() as http:
            for _ in range(400):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"instance {self.name} exited with {self.proc.returncode}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return self
                await asyncio.sleep(0.05)  # start-up poll, not an event wait
        raise RuntimeError(f"instance {self.name} did not become ready")

    def kill(self) -> None:
        """Die like a crashed machine: no shutdown hooks, no goodbyes."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Person:
    id: int
    email: str
    name: str
    token: str
    session_id: str
    http: Http

    async def request(self, method: str, path: str, *, via: Instance | None = None, **kwargs: Any) -> Any:
        return await self.http.request(method, path, token=self.token, via=via, **kwargs)

    async def connect(self, instance: Instance) -> LiveClient:
        client = LiveClient(instance, self)
        await client.connect()
        self.http.clients.append(client)
        return client


@dataclass
class Http:
    default: Instance
    app: Quart
    clients: list[LiveClient] = field(default_factory=list)

    async def request(
        self, method: str, path: str, *, token: str | None = None, via: Instance | None = None, json: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{(via or self.default).url}/api/v1{path}"
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, url, json=json, headers=headers) as response,
        ):
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def signup(self, email: str, name: str) -> Person:
        form = {"email": email, "password": PASSWORD, "name": name}
        status, body = await self.request("POST", "/auth/register", json=form)
        assert status == 201, body
        token, session_id = await self.sign_in(body["id"])
        return Person(body["id"], email, name, token, session_id, self)

    async def sign_in(self, user_id: int) -> tuple[str, str]:
        """A live session and its access token, made by the service `POST /auth/login` uses."""
        signed_in = await auth_service.start_session(
            self.app.extensions["db"],
            self.app.extensions["redis"],
            self.app.config["TINYCRM"],
            user_id=user_id,
            ip="127.0.0.1",
            user_agent="realtime-tests",
        )
        return signed_in.access_token, signed_in.session.id

    async def another_session(self, person: Person) -> Person:
        """The same user signed in a second time (another device)."""
        token, session_id = await self.sign_in(person.id)
        return Person(person.id, person.email, person.name, token, session_id, self)


class LiveClient:
    """A socket.io client that collects what the server sends."""

    def __init__(self, instance: Instance, person: Person) -> None:
        self.instance = instance
        self.person = person
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.presence: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.revoked: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.disconnected = asyncio.Event()
        self.sio.on("event", self.events.put)
        self.sio.on("presence", self.presence.put)
        self.sio.on("session:revoked", self.revoked.put)
        self.sio.on("disconnect", self._on_disconnect)

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    async def connect(self, auth: Any = None) -> None:
        await self.sio.connect(
            self.instance.url,
            auth=auth if auth is not None else {"token": self.person.token},
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, timeout=TIMEOUT)

    async def join(self, org: Any, after_seq: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"org": org}
        if after_seq is not None:
            payload["after_seq"] = after_seq
        ack = await self.call("org:join", payload)
        assert ack["ok"], ack
        return dict(ack)

    async def next_event(self, match: Callable[[dict[str, Any]], bool] = lambda e: True) -> dict[str, Any]:
        """The next received event that matches (others are skipped)."""

        async def wait() -> dict[str, Any]:
            while True:
                event = await self.events.get()
                if match(event):
                    return event

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def next_presence(self, match: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                message = await self.presence.get()
                if match(message):
                    return message

        return await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


def instance_env(database_url: str, redis_url: str, channel: str, secret: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secret,
        "BASE_URL": "http://localhost",
        "TINYCRM_PUBSUB_CHANNEL": channel,
        "TINYCRM_AUTO_MIGRATE": "0",
        "TINYCRM_PRESENCE_TTL": "3",
        "TINYCRM_SESSION_CHECK_EVERY": "2",
        "RATE_LIMIT_READ": "100000/60",
        "RATE_LIMIT_WRITE": "100000/60",
        "RATE_LIMIT_AUTH": "100000/60",
        "RATE_LIMIT_SEARCH": "100000/60",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "4",
    }


@pytest.fixture(scope="session")
def realtime_env(config: Config) -> dict[str, str]:
    """The instances share the test app's database, Redis and secret (so its sessions sign them in)."""
    assert config.database_url and config.redis_url
    channel = f"tinycrm-rt-{secrets.token_hex(4)}"
    return instance_env(config.database_url, config.redis_url, channel, config.secret_key)


@pytest.fixture(scope="module")
async def instances(realtime_env: dict[str, str]) -> AsyncIterator[tuple[Instance, Instance]]:
    # Module-scoped: a running instance's outbox relay publishes whatever the in-process app
    # commits (and then writes dashboard.updated events), so it must not outlive the modules
    # that use it and race the row counts of unrelated tests on the worker's database.
    a, b = Instance(realtime_env, "A"), Instance(realtime_env, "B")
    try:
        await asyncio.gather(a.start(), b.start())
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
async def spawn(realtime_env: dict[str, str]) -> AsyncIterator[Callable[..., Any]]:
    """Start extra instances for one test (stopped at its end)."""
    started: list[Instance] = []

    async def start(**overrides: str) -> Instance:
        instance = Instance({**realtime_env, **overrides}, f"extra{len(started)}")
        started.append(instance)
        return await instance.start()

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
async def http(app: Quart, instances: tuple[Instance, Instance]) -> AsyncIterator[Http]:
    api = Http(instances[0], app)
    yield api
    for client in api.clients:
        await client.close()


@pytest.fixture
async def alice(http: Http) -> Person:
    return await http.signup("alice@example.com", "Alice Adams")


@pytest.fixture
async def bob(http: Http) -> Person:
    return await http.signup("bob@example.com", "Bob Brown")


@pytest.fixture
async def org(alice: Person) -> dict[str, Any]:
    status, body = await alice.request("POST", "/orgs", json={"name": "Acme Sales"})
    assert status == 201, body
    return dict(body)


async def add_member(owner: Person, org: dict[str, Any], user: Person, role: str = "member") -> None:
    status, body = await owner.request("POST", f"/orgs/{org['slug']}/members", json={"email": user.email, "role": role})
    assert status == 201, body
