"""Shared bench plumbing: a dedicated database, app servers under uvicorn, wrk runs, a tenant to call as.

Environment: BENCH_DATABASE_URL (a PostgreSQL server; default postgresql://postgres@127.0.0.1:5432),
BENCH_REDIS_URL (a Redis database the bench may flush; default redis://127.0.0.1:6379/14).
Each run creates its own database `tinycrm_bench_<name>_<pid>` and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import redis

from crm.config import Config
from crm.db import asyncpg_dsn, migrate

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 1234"  # noqa: S105  (a throwaway user in a throwaway database)


def server_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(asyncpg_dsn(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextlib.asynccontextmanager
async def bench_database(name: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this run; dropped on the way out."""
    database = f"tinycrm_bench_{name}_{os.getpid()}"
    admin_url = with_database(server_url(), "postgres")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    url = with_database(server_url(), database)
    flush_redis()
    try:
        await migrate(url)
        yield url
    finally:
        flush_redis()
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


def flush_redis() -> None:
    client = redis.Redis.from_url(redis_url())
    try:
        client.flushdb()
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(database_url: str) -> dict[str, str]:
    """Environment for the real app: the bench's services, quiet logs, limits out of the way."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url(),
        "SECRET_KEY": secrets.token_hex(32),
        "LOG_LEVEL": "WARNING",
        "TINYCRM_DATA_DIR": tempfile.mkdtemp(prefix="tinycrm-bench-"),
        "PYTHONPATH": str(ROOT),
    }
    for group in Config().rate_limits:
        env[f"RATE_LIMIT_{group.upper()}"] = "100000000/60"
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str


@contextlib.contextmanager
def uvicorn_server(app: str, env: dict[str, str], *, ready_path: str = "/healthz") -> Iterator[Server]:
    """`uvicorn APP` on a free port (one worker, no access log); stopped on the way out."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with {process.returncode}")
            try:
                if httpx.get(base_url + ready_path, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not become ready")
            time.sleep(0.2)
        yield Server(process, base_url)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Tenant:
    token: str
    user_id: int
    org: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(base_url: str, email: str, name: str = "Bench User") -> tuple[str, int]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        created = client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": name})
        created.raise_for_status()
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        return login.json()["access_token"], int(created.json()["id"])


def create_org(base_url: str, token: str, name: str) -> dict[str, Any]:
    response = httpx.post(
        base_url + "/api/v1/orgs", json={"name": name}, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    return dict(response.json())


def new_tenant(base_url: str, org_name: str = "Bench Org") -> Tenant:
    token, user_id = sign_up(base_url, f"bench-{secrets.token_hex(4)}@example.com")
    return Tenant(token, user_id, create_org(base_url, token, org_name))


# Counting X-Cache hits costs wrk a header parse per response: only the latency benches do it.
COUNT_HITS = """
response = function(status, headers, body)
  if headers["X-Cache"] == "hit" or headers["x-cache"] == "hit" then hits = hits + 1 end
end
"""
WRK_SCRIPT = """
local paths = {%(paths)s}
local threads = {}
counter = 0
hits = 0
setup = function(thread)
  table.insert(threads, thread)
end
request = function()
  counter = counter %% #paths + 1
  return wrk.format("GET", paths[counter])
end
%(response)s
done = function(summary, latency, requests)
  local cache_hits = 0
  for _, thread in ipairs(threads) do cache_hits = cache_hits + (thread:get("hits") or 0) end
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"non2xx\\": %%d, \\"socket_errors\\": %%d,"
    .. " \\"p50_us\\": %%d, \\"p95_us\\": %%d, \\"p99_us\\": %%d, \\"cache_hits\\": %%d}\\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), cache_hits))
end
"""


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    cache_hits: int


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


def run_wrk(
    base_url: str,
    paths: list[str],
    *,
    headers: dict[str, str] | None = None,
    duration: float = 10,
    connections: int = 32,
    threads: int = 1,
    count_hits: bool = False,
) -> WrkResult:
    """Load `paths` (cycled) from a separate wrk process; latency percentiles over every request."""
    script = WRK_SCRIPT % {
        "paths": ", ".join(json.dumps(p) for p in paths),
        "response": COUNT_HITS if count_hits else "",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = [
        wrk_binary(),
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(duration))}s",
        "-s",
        handle.name,
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    try:
        output = subprocess.run([*command, base_url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    line = next(line for line in output.splitlines() if line.startswith("WRKJSON "))
    data = json.loads(line[len("WRKJSON ") :])
    return WrkResult(
        requests=data["requests"],
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
        cache_hits=data["cache_hits"],
    )


def check_clean(name: str, result: WrkResult) -> None:
    if result.non2xx or result.socket_errors:
        raise SystemExit(f"{name}: {result.non2xx} non-2xx responses, {result.socket_errors} socket errors")


def machine() -> str:
    cpus = os.cpu_count()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpus} cores ({model or 'unknown CPU'}), Python {sys.version.split()[0]}, load average {load}"


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)
