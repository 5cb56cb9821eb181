"""One multiplexed Redis connection for the request hot path.

redis-py's asyncio client spends about 190 us of CPU per command here (pool checkout,
retry wrapper, per-command parsing), which on a cached GET's two round trips costs more
than the whole of Quart's request handling. This connection is shared by every request
of the process: commands from concurrent requests are written back to back on one socket
(Redis answers in order, so a FIFO of futures pairs replies with callers) and hiredis
parses the replies, at about 20 us a command. Latency is unchanged; only CPU is saved.

Errors keep redis-py's types, so callers and the breaker in `crm.redis` treat both
clients alike: a lost or refused connection is a `ConnectionError`, no reply within
`timeout` a `TimeoutError` (the connection is then dropped, failing whatever waited on
it), an error reply a `ResponseError` (`NoScriptError` for NOSCRIPT).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | bytes | int | float


class Script:
    """A Lua script run by EVALSHA, loaded on first use (and again after a server restart)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Protocol(asyncio.Protocol):
    """Replies come back in the order commands went out: a FIFO of (future, deadline) pairs
    them. Commands sent in one turn of the event loop go out in one write, and one watchdog
    timer per connection (not one per command) notices a reply that is overdue."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self.outgoing: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.watching = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future, _deadline = self.waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost is None:
            self.lost = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        self._fail_waiting(self.lost)

    def send(self, args: Sequence[Arg]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self.lost is not None or self.transport is None or self.transport.is_closing():
            future.set_exception(self.lost or RedisConnectionError("connection to Redis closed"))
            return future
        self.waiting.append((future, loop.time() + self.timeout))
        if not self.outgoing:
            loop.call_soon(self._flush)
        self.outgoing.append(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]  # the stub says a 1-tuple
        if not self.watching:
            self.watching = True
            loop.call_later(self.timeout / 4, self._watch)
        return future

    def close(self, error: Exception | None = None) -> None:
        if error is not None and self.lost is None:
            self.lost = error
            self._fail_waiting(error)
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        if self.outgoing and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def _watch(self) -> None:
        if not self.waiting or self.lost is not None:
            self.watching = False
            return
        loop = asyncio.get_running_loop()
        if self.waiting[0][1] <= loop.time():
            # the oldest command is overdue, so every later one is too: drop the connection
            self.watching = False
            self.close(RedisTimeoutError(f"no reply from Redis within {self.timeout}s"))
            return
        loop.call_later(self.timeout / 4, self._watch)

    def _fail_waiting(self, error: Exception) -> None:
        while self.waiting:
            future, _deadline = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)


# Runs on every new connection before any caller's command: gets a function that sends one
# command on that connection and returns its reply.
OnConnect = Callable[[Callable[..., Awaitable[Any]]], Awaitable[None]]


class Multiplexed:
    """A lazily opened, self-healing, pipelined Redis connection (REDIS_URL's server and db)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 1.0,
        connect_timeout: float = 0.5,
        on_connect: OnConnect | None = None,
    ) -> None:
        options = parse_url(url)
        self.path: str | None = options.get("path")
        self.host: str = options.get("host", "localhost")
        self.port: int = int(options.get("port", 6379))
        self.db = int(options.get("db", 0) or 0)
        self.username: str | None = options.get("username")
        self.password: str | None = options.get("password")
        self.tls = options.get("connection_class") is SSLConnection
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.on_connect = on_connect
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    async def execute(self, *args: Arg) -> Any:
        """One command; its reply as hiredis gives it (bytes, int, list, None)."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        return await self._await(protocol.send(args))

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.execute("SCRIPT", "LOAD", script.source)
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    async def close(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _await(self, future: asyncio.Future[Any]) -> Any:
        reply = await future  # the protocol's watchdog fails it if no reply comes in time
        if isinstance(reply, hiredis.ReplyError):
            message = str(reply)
            if message.startswith("NOSCRIPT"):
                raise NoScriptError(message)
            raise ResponseError(message)
        return reply

    async def _connect(self) -> _Protocol:
        # concurrent callers share one attempt
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            if self.path is not None:
                opening = loop.create_unix_connection(lambda: _Protocol(self.timeout), self.path)
            else:
                context = ssl.create_default_context() if self.tls else None
                opening = loop.create_connection(lambda: _Protocol(self.timeout), self.host, self.port, ssl=context)
            _transport, protocol = await asyncio.wait_for(opening, self.connect_timeout)
        except TimeoutError:
            raise RedisTimeoutError("timed out connecting to Redis") from None
        except OSError as error:
            raise RedisConnectionError(f"cannot connect to Redis: {error}") from error
        try:
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                await self._await(protocol.send(("AUTH", *auth)))
            if self.db:
                await self._await(protocol.send(("SELECT", self.db)))
            if self.on_connect is not None:

                async def send(*args: Arg) -> Any:
                    return await self._await(protocol.send(args))

                await self.on_connect(send)
        except BaseException:
            protocol.close()
            self._protocol = None
            raise
        self._protocol = protocol
        return protocol
