"""The cache store: generations, the epoch, lookups, stores, single-flight, deferred bumps.

Correctness rests on three rules (reasoned out in docs/redis.md):

1. A reader reads the epoch and the generations of every domain its view
   depends on (one script, one round trip, which also fetches the value)
   **before** it queries PostgreSQL, and stores its result under them.
2. A writer bumps the generations **after** commit. A generation never goes
   back within an epoch: a missing counter starts at Redis' clock in
   microseconds, beyond any value an evicted or flushed counter ever had.
3. The epoch is the Redis server's `run_id`, written to `tc:epoch` by every
   new connection before its first command. A restart, a restore from an older
   snapshot or a failover changes it, so nothing stored before is ever read again.

A bump that fails (Redis unreachable, breaker open) marks the org's domains dirty
in this process: their views bypass the cache here until a retry succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crm import metrics
from crm.cache import keys
from crm.redis import Breaker, RedisHub
from crm.redismux import Multiplexed, Script

log = logging.getLogger(__name__)

# KEYS: epoch key, the n generation keys, their n fence keys. ARGV: value prefix, digest.
# Returns {epoch or false, generation token, value or false}; the token is false (bypass:
# compute, do not store) while a write of one of these domains is between fence and bump.
READ_SCRIPT = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {false, false, false} end
local n = (#KEYS - 1) / 2
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2 + n, #KEYS do
  if redis.call('ZCOUNT', KEYS[i], '(' .. now_ms, '+inf') > 0 then return {epoch, false, false} end
end
local now = false
local parts = {epoch}
for i = 2, 1 + n do
  local g = redis.call('GET', KEYS[i])
  if not g then
    if not now then
      local t = redis.call('TIME')
      now = t[1] .. string.format('%06d', tonumber(t[2]))
    end
    redis.call('SET', KEYS[i], now)
    g = now
  end
  parts[#parts + 1] = g
end
local token = table.concat(parts, '.')
local value = redis.call('GET', ARGV[1] .. token .. ':' .. ARGV[2])
return {epoch, token, value or false}
"""

# READ_SCRIPT for several views of one org at once. KEYS: epoch key, the m generation keys
# of every view (each once), then their m fence keys in the same order. ARGV: the number of
# views, then per view: value prefix, digest, the number of its generations and their
# positions in KEYS (2-based, in the view's sorted order).
# Returns {epoch or false, token 1, value 1 or false, token 2, value 2 or false, ...}; each
# token is exactly the one READ_SCRIPT makes for that view, so both read the same entries,
# and false where READ_SCRIPT's would be (a fenced domain).
READ_MANY_SCRIPT = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {false} end
local m = (#KEYS - 1) / 2
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = false
local gens = {}
local fenced = {}
for i = 2, 1 + m do
  local g = redis.call('GET', KEYS[i])
  if not g then
    if not now then
      local t = redis.call('TIME')
      now = t[1] .. string.format('%06d', tonumber(t[2]))
    end
    redis.call('SET', KEYS[i], now)
    g = now
  end
  gens[i] = g
  fenced[i] = redis.call('ZCOUNT', KEYS[i + m], '(' .. now_ms, '+inf') > 0
end
local out = {epoch}
local a = 2
for _ = 1, tonumber(ARGV[1]) do
  local prefix, digest, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local parts = {epoch}
  local bypass = false
  for j = 1, n do
    local at = tonumber(ARGV[a + 2 + j])
    parts[#parts + 1] = gens[at]
    if fenced[at] then bypass = true end
  end
  a = a + 3 + n
  if bypass then
    out[#out + 1] = false
    out[#out + 1] = false
  else
    local token = table.concat(parts, '.')
    out[#out + 1] = token
    out[#out + 1] = redis.call('GET', prefix .. token .. ':' .. digest) or false
  end
end
return out
"""

# KEYS: the n generation keys, then (when the writer fenced them) their fence keys.
# ARGV: n, then the writer's fence id. A missing counter restarts at the clock, never at 1.
# Each fence given loses the writer's own entry (and expired ones; the key goes when empty).
BUMP_SCRIPT = """
local n = tonumber(ARGV[1])
local now = false
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCR', KEYS[i])
  else
    if not now then
      local t = redis.call('TIME')
      now = t[1] .. string.format('%06d', tonumber(t[2]))
    end
    redis.call('SET', KEYS[i], now)
  end
end
if #KEYS > n then
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for i = n + 1, #KEYS do
    redis.call('ZREM', KEYS[i], ARGV[2])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now_ms)
    if redis.call('ZCARD', KEYS[i]) == 0 then redis.call('DEL', KEYS[i]) end
  end
end
return n
"""

# A write transaction's fence, set just before its commit. KEYS: fence keys. ARGV: expiry
# in ms, the writer's fence id. Each fence key is a sorted set of the writers in flight,
# scored by their own deadline: a writer that dies (or whose release is lost) stops
# counting at its deadline, whatever other writers do. The key's own expiry only
# collects it.
FENCE_SCRIPT = """
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], deadline, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return #KEYS
"""

RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# A computed miss's last step: store the value and give the single-flight lock back, in one
# round trip. KEYS: value key, lock key. ARGV: value, TTL seconds, lock owner.
STORE_RELEASE_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
"""

READ = Script(READ_SCRIPT)
READ_MANY = Script(READ_MANY_SCRIPT)
BUMP = Script(BUMP_SCRIPT)
RELEASE = Script(RELEASE_SCRIPT)
FENCE = Script(FENCE_SCRIPT)
FENCE_MS = 10_000  # far beyond a commit; bounds how long a dead writer's fence makes reads bypass
STORE_RELEASE = Script(STORE_RELEASE_SCRIPT)
SINGLE_FLIGHT_LOCK_MS = 5000
SINGLE_FLIGHT_WAIT = 1.0
RETRY_EVERY = 0.25
FAILED: Any = object()  # a Redis call that did not happen (error or open breaker)


@dataclass(frozen=True)
class Lookup:
    """What a read found: `token` (epoch + generations) to store under, and the value if cached.

    `token` is None when the cache must be bypassed (Redis down, dirty domains).
    """

    token: str | None
    value: bytes | None = None


BYPASS = Lookup(None)

# A lookup already made in this request for (org id, kind, digest) (crm.cache.http's prefetch):
# the next `lookup()` of that entry answers it instead of asking Redis again, once.
prefetched: contextvars.ContextVar[tuple[int, str, str, Lookup] | None] = contextvars.ContextVar(
    "tinycrm_cache_prefetched", default=None
)


def _parse_run_id(info: bytes | str) -> str:
    text = info.decode() if isinstance(info, bytes) else info
    for line in text.splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError("INFO server has no run_id")


class CacheHub(RedisHub):
    """A RedisHub for caches whose connections record the server's run_id as the epoch."""

    def __init__(self, url: str, *, max_connections: int = 50) -> None:
        self.url = url
        self.breaker = Breaker(cooldown=1.0)
        self.run_id: str | None = None
        self.client = aioredis.Redis.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=0.5,
            socket_connect_timeout=0.25,
            health_check_interval=30,
            # one reconnect after a restart (pooled sockets are dead), then the breaker decides
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError, RedisTimeoutError)),
            redis_connect_func=self._on_connect,
        )
        self.mux = Multiplexed(url, timeout=0.5, connect_timeout=0.25, on_connect=self._record_epoch)

    async def _on_connect(self, connection: Any) -> None:
        # no PING health check here: on a server that hangs, its retry reconnects into this very
        # function until the recursion limit (a minute of stalled requests); INFO below checks it
        await connection.on_connect_check_health(check_health=False)

        async def send(*args: Any) -> Any:
            await connection.send_command(*args)
            return await connection.read_response()

        await self._record_epoch(send)

    async def _record_epoch(self, send: Callable[..., Awaitable[Any]]) -> None:
        # Runs before the first command of every new connection: a restarted, restored or
        # promoted server has a new run_id, so the epoch moves before anyone reads under it.
        run_id = _parse_run_id(await send("INFO", "server"))
        await send("SET", keys.EPOCH_KEY, run_id[:16])
        if self.run_id != run_id:
            if self.run_id is not None:
                log.warning("cache redis has a new run_id: epoch changed, earlier entries are unreachable")
            self.run_id = run_id


class CacheStore:
    """The process's cache: one per app, on `CacheHub` (REDIS_URL or CACHE_REDIS_URL).

    `org_id` below is the views' owner: an org id, or a `keys.UserScope` for a user's own views."""

    def __init__(self, hub: CacheHub) -> None:
        self.hub = hub
        self.dirty: dict[tuple[keys.Owner, str], int] = {}
        self._retry_task: asyncio.Task[None] | None = None

    # -- generations -------------------------------------------------------------------

    async def bump(
        self, org_id: keys.Owner, domains: Iterable[str], *, defer: bool = True, fence_id: str | None = None
    ) -> bool:
        """INCR the generations after commit; on failure defer them (dirty) and retry.

        `fence_id`: the writer's `fence()` of these domains; the bump gives it back.
        `defer=False` (the invalidation sweeper, which retries from PostgreSQL) only reports failure.
        """
        names = sorted(set(domains))
        if not names:
            return True
        gens = keys.domains_key_list(org_id, names)
        fences = keys.fence_key_list(org_id, names) if fence_id else []
        ok = await self._timed_script("bump", BUMP, [*gens, *fences], [len(gens), fence_id or ""])
        if ok is FAILED:  # a fence given stays until it expires: reads bypass until then
            if not defer:
                return False
            metrics.CACHE_BUMPS.labels("deferred").inc()
            for name in names:
                self.dirty[(org_id, name)] = self.dirty.get((org_id, name), 0) + 1
            metrics.CACHE_DIRTY.set(len(self.dirty))
            self._ensure_retrying()
            return False
        metrics.CACHE_BUMPS.labels("ok").inc()
        return True

    async def fence(self, org_id: keys.Owner, domains: Iterable[str], fence_id: str) -> bool:
        """Before a commit that changes these domains: until the bump (or FENCE_MS), every read of
        a view of them bypasses the cache (computes from PostgreSQL, stores nothing), so no read
        that begins after the commit can be answered from an entry older than it. False when
        it did not land (Redis unreachable): the write goes on, as unfenced writes did."""
        names = sorted(set(domains))
        if not names:
            return False
        done = await self._timed_script("fence", FENCE, keys.fence_key_list(org_id, names), [FENCE_MS, fence_id])
        return done is not FAILED

    async def unfence(self, org_id: keys.Owner, domains: Iterable[str], fence_id: str) -> None:
        """Give a fence back without a bump: the transaction did not commit."""
        names = sorted(set(domains))
        if names:
            # BUMP with no generations: only the release of the writer's fence entries
            await self._timed_script("unfence", BUMP, keys.fence_key_list(org_id, names), [0, fence_id])

    def is_dirty(self, org_id: keys.Owner, depends: Iterable[str]) -> bool:
        return bool(self.dirty) and any((org_id, d) in self.dirty for d in depends)

    def _ensure_retrying(self) -> None:
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(self._retry_deferred())

    async def _retry_deferred(self) -> None:
        while self.dirty:
            await asyncio.sleep(RETRY_EVERY)
            await self.flush_deferred()

    async def flush_deferred(self) -> None:
        """Retry deferred bumps; an entry is cleared only if no newer failure arrived meanwhile."""
        snapshot = dict(self.dirty)
        by_org: dict[keys.Owner, list[str]] = {}
        for org_id, domain in snapshot:
            by_org.setdefault(org_id, []).append(domain)
        for org_id, domains in by_org.items():
            gens = keys.domains_key_list(org_id, domains)
            done = await self._timed_script("bump", BUMP, gens, [len(gens), ""])
            if done is FAILED:
                return
            for domain in domains:
                if self.dirty.get((org_id, domain)) == snapshot[(org_id, domain)]:
                    del self.dirty[(org_id, domain)]
            metrics.CACHE_BUMPS.labels("ok").inc()
        metrics.CACHE_DIRTY.set(len(self.dirty))

    # -- reads and writes --------------------------------------------------------------

    async def lookup(self, org_id: keys.Owner, kind: str, depends: Iterable[str], digest: str) -> Lookup:
        """Read epoch + generations (+ the value if cached) in one round trip."""
        depends = tuple(depends)
        if self.is_dirty(org_id, depends):
            return BYPASS
        early = prefetched.get()
        if early is not None and early[:3] == (org_id, kind, digest):
            prefetched.set(None)
            return early[3]
        script_keys = [keys.EPOCH_KEY, *keys.domains_key_list(org_id, depends), *keys.fence_key_list(org_id, depends)]
        args = [keys.value_prefix(org_id, kind), digest]
        for _attempt in range(2):
            found = await self._timed_script("lookup", READ, script_keys, args)
            if found is FAILED:
                return BYPASS
            epoch, token, value = found
            if epoch is not None:
                return BYPASS if token is None else Lookup(token.decode(), value)
            await self._restore_epoch()  # flushed or evicted within this server's lifetime
        return BYPASS

    async def lookup_many(self, org_id: keys.Owner, views: list[tuple[str, tuple[str, ...], str]]) -> list[Lookup]:
        """`lookup()` for several (kind, depends, digest) views of one org, in one round trip."""
        if any(self.is_dirty(org_id, depends) for _kind, depends, _digest in views):
            return [await self.lookup(org_id, kind, depends, digest) for kind, depends, digest in views]
        gen_keys: list[str] = []
        args: list[Any] = [len(views)]
        for kind, depends, digest in views:
            own = keys.domains_key_list(org_id, depends)
            for key in own:
                if key not in gen_keys:
                    gen_keys.append(key)
            args += [keys.value_prefix(org_id, kind), digest, len(own), *(gen_keys.index(k) + 2 for k in own)]
        script_keys = [keys.EPOCH_KEY, *gen_keys, *(keys.fence_of(key) for key in gen_keys)]
        for _attempt in range(2):
            found = await self._timed_script("lookup", READ_MANY, script_keys, args)
            if found is FAILED:
                return [BYPASS] * len(views)
            if found[0] is not None:
                return [
                    BYPASS if found[i] is None else Lookup(found[i].decode(), found[i + 1])
                    for i in range(1, len(found), 2)
                ]
            await self._restore_epoch()
        return [BYPASS] * len(views)

    async def _restore_epoch(self) -> None:
        run_id = self.hub.run_id
        if run_id is not None:
            await self._timed("epoch", lambda c: c.set(keys.EPOCH_KEY, run_id[:16], nx=True))

    async def store(self, org_id: keys.Owner, kind: str, token: str, digest: str, value: bytes, ttl: int) -> None:
        key = keys.value_key(org_id, kind, token, digest)
        await self._timed_command("store", "SET", key, value, "EX", ttl)

    async def get_value(self, org_id: keys.Owner, kind: str, token: str, digest: str) -> bytes | None:
        key = keys.value_key(org_id, kind, token, digest)
        value = await self._timed("poll", lambda c: c.get(key))
        return None if value is FAILED else value

    async def get_or_compute(
        self,
        *,
        org_id: keys.Owner,
        kind: str,
        depends: Iterable[str],
        digest: str,
        ttl: int,
        compute: Callable[[], Awaitable[bytes]],
        single_flight: bool = True,
    ) -> tuple[bytes, str]:
        """The cached bytes, or compute (once per key across processes) and store them.

        Answers (value, outcome) with outcome `hit`, `miss` or `bypass`.
        """
        depends = tuple(depends)
        found = await self.lookup(org_id, kind, depends, digest)
        return await self.finish_lookup(
            found,
            org_id=org_id,
            kind=kind,
            depends=depends,
            digest=digest,
            ttl=ttl,
            compute=compute,
            single_flight=single_flight,
        )

    async def finish_lookup(
        self,
        found: Lookup,
        *,
        org_id: keys.Owner,
        kind: str,
        depends: tuple[str, ...],
        digest: str,
        ttl: int,
        compute: Callable[[], Awaitable[bytes]],
        single_flight: bool = True,
    ) -> tuple[bytes, str]:
        """The rest of `get_or_compute()` once the lookup is done (it may have been one of many)."""
        if found.value is not None:
            metrics.CACHE_LOOKUPS.labels(kind, "hit").inc()
            return found.value, "hit"
        if found.token is None:
            metrics.CACHE_LOOKUPS.labels(kind, "bypass").inc()
            return await self._compute(kind, compute), "bypass"
        token = found.token
        lock, owner = keys.lock_key(org_id, kind, token, digest), secrets.token_hex(8)
        if single_flight:
            acquired = await self._timed_command("lock", "SET", lock, owner, "NX", "PX", SINGLE_FLIGHT_LOCK_MS)
            if acquired is FAILED:
                single_flight = False
            elif not acquired:
                waited = await self._wait_for(org_id, kind, token, digest, lock)
                if waited is not None:
                    metrics.CACHE_SINGLE_FLIGHT.labels("filled").inc()
                    metrics.CACHE_LOOKUPS.labels(kind, "hit").inc()
                    return waited, "hit"
                metrics.CACHE_SINGLE_FLIGHT.labels("gave_up").inc()
                single_flight = False
        metrics.CACHE_LOOKUPS.labels(kind, "miss").inc()
        try:
            value = await self._compute(kind, compute)
        except BaseException:
            if single_flight:
                await self._timed_script("unlock", RELEASE, [lock], [owner])
            raise
        storing = not self.is_dirty(org_id, depends)
        if storing and single_flight:
            key = keys.value_key(org_id, kind, token, digest)
            stored = await self._timed_script("store", STORE_RELEASE, [key, lock], [value, ttl, owner])
            if stored is FAILED:  # e.g. refused for memory: a release alone may still go through
                await self._timed_script("unlock", RELEASE, [lock], [owner])
        elif storing:
            await self.store(org_id, kind, token, digest, value, ttl)
        elif single_flight:
            await self._timed_script("unlock", RELEASE, [lock], [owner])
        return value, "miss"

    async def _wait_for(self, org_id: keys.Owner, kind: str, token: str, digest: str, lock: str) -> bytes | None:
        """Poll for the value another request is computing; None once it gave up or the wait ran out."""
        deadline = time.monotonic() + SINGLE_FLIGHT_WAIT
        pause = 0.005
        while time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            both = await self._timed("poll", lambda c: c.mget(keys.value_key(org_id, kind, token, digest), lock))
            if both is FAILED:
                return None
            value, holder = both
            if value is not None:
                return bytes(value)
            if holder is None:
                return None
        return None

    async def _compute(self, kind: str, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        started = time.perf_counter()
        value = await compute()
        metrics.CACHE_COMPUTE.labels(kind).observe(time.perf_counter() - started)
        return value

    async def _timed(self, op: str, call: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
        """Run one Redis call through the breaker; FAILED (and an error count) when it failed."""
        return await self._measured(op, lambda: self.hub.guarded(call, FAILED))

    async def _timed_script(self, op: str, script: Script, script_keys: list[str], args: list[Any]) -> Any:
        """`_timed()` for a script on the hub's multiplexed connection (the per-request commands)."""
        return await self._measured(op, lambda: self.hub.run_script(script, script_keys, args, FAILED))

    async def _timed_command(self, op: str, *args: Any) -> Any:
        """`_timed()` for one command on the hub's multiplexed connection."""
        return await self._measured(op, lambda: self.hub.run_command(args, FAILED))

    async def _measured(self, op: str, call: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        result = await call()
        if result is FAILED:
            metrics.CACHE_ERRORS.labels(op).inc()
            return FAILED
        metrics.CACHE_LATENCY.labels(op).observe(time.perf_counter() - started)
        return result

    async def close(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        await self.hub.close()
