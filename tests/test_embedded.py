"""Single-machine mode: processes on one machine share one embedded PostgreSQL and Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import redis

CHILD = """
import json, sys
from pathlib import Path
from crm.embedded import resolve_urls
db, rd = resolve_urls(None, None, Path(sys.argv[1]))
print(json.dumps({"db": db, "redis": rd}), flush=True)
sys.stdin.read()  # stay alive until the test closes stdin
"""


def _start(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read().decode() if proc.stderr else "no output"
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=60)


def test_two_processes_share_one_embedded_pair_and_the_last_one_stops_it(tmp_path: Path) -> None:
    first, urls_a = _start(tmp_path)
    second, urls_b = _start(tmp_path)
    try:
        assert urls_a == urls_b
        socket_path = urls_a["redis"].removeprefix("unix://")
        client = redis.Redis(unix_socket_path=socket_path)
        client.set("shared", "yes")
        assert client.get("shared") == b"yes"
        # one Redis server for the data dir, not one per process
        assert client.info("clients")["connected_clients"] >= 1
        pids = {int(p) for p in (tmp_path / "redis" / "redis.pid").read_text().split()}
        assert len(pids) == 1
        _stop(first)
        assert client.ping()  # still up: the second process uses it
        client.close()
    finally:
        _stop(second)
    deadline = time.monotonic() + 10
    while Path(socket_path).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped = redis.Redis(unix_socket_path=socket_path, socket_connect_timeout=1)
    try:
        stopped.ping()
        alive = True
    except (redis.ConnectionError, OSError):
        alive = False
    assert not alive, "the last process to exit stops the embedded Redis"


def test_serve_stopped_with_sigterm_stops_its_embedded_engines(tmp_path: Path) -> None:
    """`kill` (systemd, a container stop) must not leave the embedded PostgreSQL and Redis behind."""
    import os
    import signal
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BASE_URL")}
    env.update(TINYCRM_DATA_DIR=str(tmp_path), LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crm.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "serve exited early"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.2)  # start-up poll
        pg_pid = int((tmp_path / "pg" / "postmaster.pid").read_text().split()[0])
        redis_pid = int((tmp_path / "redis" / "redis.pid").read_text().split()[0])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    deadline = time.monotonic() + 20
    while not (gone(pg_pid) and gone(redis_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(pg_pid), "embedded PostgreSQL still running after SIGTERM"
    assert gone(redis_pid), "embedded Redis still running after SIGTERM"
