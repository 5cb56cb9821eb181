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
