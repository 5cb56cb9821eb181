"""python -m bench board: how long a card move by one user takes to show on a teammate's board.

Two real browsers (Chromium through Playwright), each signed in as a different member of one org,
both on /o/{org}/board of one uvicorn instance. Browser A moves a card with the keyboard (Space,
arrow, Space: the board's own optimistic move and its API call); the time of the drop is taken in
A's page by a capturing keydown listener. Browser B watches the target column with a
MutationObserver and records when the card appears there. Both pages read the same machine clock
(`performance.timeOrigin + performance.now()`, epoch milliseconds at sub-millisecond resolution),
so B's arrival minus A's drop is the end-to-end latency: request, commit, outbox publish, socket.io
fan-out through Redis, the realtime client's in-order apply and the board's render.

Baseline in the same run: the move request's own round trip as A's browser timed it (Resource
Timing): the part of the latency that is the API call, not the fan-out. Target: p95 <= 100 ms.

Environment as the other benches (BENCH_DATABASE_URL, BENCH_REDIS_URL); CHROMIUM_PATH or
/usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

from bench import common

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

# Installed in A's page: the moment the drop key goes down.
MARK_DROP = """() => {
  window.__drops = [];
  document.addEventListener("keydown", (event) => {
    if (event.key === " " && window.__armed) {
      window.__drops.push(performance.timeOrigin + performance.now());
      window.__armed = false;
    }
  }, true);
}"""

# In A's page: the last move request's round trip (Resource Timing), the baseline.
MOVE_ROUND_TRIP = """() => {
  const moves = performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/move"));
  const last = moves[moves.length - 1];
  performance.clearResourceTimings();
  return last.responseEnd - last.startTime;
}"""

# In B's page: resolve with the time the card shows up in the target column.
AWAIT_CARD = """([dealId, stageId]) => new Promise((resolve) => {
  const list = document.querySelector(`[data-stage-id="${stageId}"] [data-cards]`);
  const found = () => list.querySelector(`[data-deal-id="${dealId}"]`);
  if (found()) return resolve(-1);
  const observer = new MutationObserver(() => {
    if (found()) {
      observer.disconnect();
      resolve(performance.timeOrigin + performance.now());
    }
  });
  observer.observe(list, { childList: true, subtree: true });
})"""


@contextlib.contextmanager
def app_server(env: dict[str, str]) -> Iterator[str]:
    """The real app under uvicorn, with BASE_URL its own origin (CSRF and socket.io origin checks)."""
    port = common.free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "crm.asgi:app", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--no-access-log", "--log-level", "warning"], env={**env, "BASE_URL": base_url}, cwd=common.ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not become ready")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def setup_org(base_url: str) -> tuple[dict[str, Any], list[tuple[str, str]], int, list[int]]:
    """An org with two members, one deal; their credentials, the deal id and the first two stage ids."""
    owner = common.new_tenant(base_url, "Board Bench")
    slug = owner.org["slug"]
    email_b = f"bench-b-{os.getpid()}@example.com"
    common.sign_up(base_url, email_b, "Bench Teammate")
    with httpx.Client(base_url=base_url, headers=owner.headers, timeout=30) as client:
        me = client.get("/api/v1/me").json()
        client.post(f"/api/v1/orgs/{slug}/members", json={"email": email_b, "role": "member"}).raise_for_status()
        deal = client.post(f"/api/v1/orgs/{slug}/deals", json={"title": "Bench card", "amount": 1000}).json()
        stages = client.get(f"/api/v1/orgs/{slug}/stages").json()["items"]
    return (
        owner.org,
        [(me["email"], common.PASSWORD), (email_b, common.PASSWORD)],
        deal["id"],
        [s["id"] for s in stages[:2]],
    )


async def signed_in_page(browser: Any, base_url: str, email: str, password: str, slug: str) -> Page:
    context = await browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
    response = await context.request.post(
        "/api/v1/auth/login", data={"email": email, "password": password}, headers={"Origin": base_url}
    )
    assert response.status == 200, await response.text()
    page = await context.new_page()
    await page.goto(f"/o/{slug}/board")
    await page.wait_for_function("() => window.tinycrm && window.tinycrm.live.socket.connected")
    return page


async def one_move(a: Page, b: Page, deal_id: int, to_stage: int, key: str) -> tuple[float, float]:
    """A moves the card one column with the keyboard; (ms of the move's API round trip in A, ms until B sees it)."""
    seen_by_b = asyncio.ensure_future(b.evaluate(AWAIT_CARD, [deal_id, to_stage]))
    await a.locator(f'[data-deal-id="{deal_id}"]').focus()
    await a.keyboard.press("Space")
    await a.keyboard.press(key)
    await a.evaluate("() => { window.__armed = true; }")
    await a.keyboard.press("Space")
    b_at = await asyncio.wait_for(seen_by_b, 10)
    dropped = await a.evaluate("() => window.__drops[window.__drops.length - 1]")
    # settle: the move's response has reached A before the next move starts
    await a.wait_for_function(
        """() => performance.getEntriesByType("resource").some((e) => e.name.endsWith("/move") && e.responseEnd > 0)"""
    )
    round_trip = await a.evaluate(MOVE_ROUND_TRIP)
    return round_trip, b_at - dropped


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(args: argparse.Namespace) -> int:
    async with common.bench_database("board") as database_url:
        with app_server(common.app_env(database_url)) as base_url:
            org, users, deal_id, (first, second) = setup_org(base_url)
            async with async_playwright() as playwright:
                browser_a = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                browser_b = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    a = await signed_in_page(browser_a, base_url, *users[0], org["slug"])
                    b = await signed_in_page(browser_b, base_url, *users[1], org["slug"])
                    await a.evaluate(MARK_DROP)
                    local: list[float] = []
                    remote: list[float] = []
                    for n in range(args.warmup + args.moves):
                        to_stage, key = (second, "ArrowRight") if n % 2 == 0 else (first, "ArrowLeft")
                        a_ms, b_ms = await one_move(a, b, deal_id, to_stage, key)
                        if n >= args.warmup:
                            local.append(a_ms)
                            remote.append(b_ms)
                finally:
                    await browser_a.close()
                    await browser_b.close()
    load = os.getloadavg()[0]
    print(f"board: A's keyboard drop -> card in B's column, {args.moves} moves (+{args.warmup} warm-up), ms")
    print(f"  load average {load:.1f} on {os.cpu_count()} cores")
    for name, values in (("B sees it (live)", remote), ("A's move request", local)):
        print(
            f"  {name:<22} p50 {statistics.median(values):6.1f}  p95 {percentile(values, 0.95):6.1f}"
            f"  max {max(values):6.1f}"
        )
    p95 = percentile(remote, 0.95)
    ratio = p95 / percentile(local, 0.95)
    print(f"  p95 live / p95 request {ratio:.2f}x")
    print(f"  p95 live {p95:.1f} ms (target <= 100 ms): {'met' if p95 <= 100 else 'NOT met'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=60, help="measured moves (at least 50)")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if args.moves < 50:
        parser.error("--moves must be at least 50 for a p95")
    return asyncio.run(bench(args))
