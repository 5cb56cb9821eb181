"""The multiplexed hot-path connection (crm.redismux) against real redis-servers."""

from __future__ import annotations

import asyncio
import secrets
import socket

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crm.redismux import Multiplexed, Script
from tests.cache.conftest import RedisServer

ECHO = Script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")


async def test_concurrent_callers_each_get_their_own_reply(redis_url: str) -> None:
    mux = Multiplexed(redis_url)
    try:
        run = secrets.token_hex(4)  # the worker's db is not flushed for this test

        async def one(n: int) -> None:
            key, value = f"mux:{run}:{n}", f"value-{n}"
            assert await mux.execute("SET", key, value, "EX", 60) == b"OK"
            assert await mux.execute("GET", key) == value.encode()
            counter = f"mux:{run}:count:{n}"
            assert await mux.evalsha(ECHO, [counter], [n]) == [counter.encode(), str(n).encode(), 1]

        await asyncio.gather(*(one(n) for n in range(500)))
    finally:
        await mux.close()


async def test_it_uses_the_urls_database(redis_url: str) -> None:
    mux = Multiplexed(redis_url)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await mux.execute("SET", "mux:db", "here")
        assert await client.get("mux:db") == b"here"  # redis-py on the same URL sees it
    finally:
        await client.aclose()
        await mux.close()


async def test_a_script_flushed_from_the_server_is_loaded_again(redis_url: str) -> None:
    mux = Multiplexed(redis_url)
    try:
        key = f"mux:{secrets.token_hex(4)}"
        assert (await mux.evalsha(ECHO, [key], ["a"]))[2] == 1
        await mux.execute("SCRIPT", "FLUSH")
        assert (await mux.evalsha(ECHO, [key], ["a"]))[2] == 2
        await mux.execute("DEL", key)
    finally:
        await mux.close()


async def test_an_error_reply_is_a_response_error_and_the_connection_goes_on(redis_url: str) -> None:
    mux = Multiplexed(redis_url)
    try:
        await mux.execute("SET", "mux:text", "not a number")
        with pytest.raises(ResponseError, match="not an integer"):
            await mux.execute("INCR", "mux:text")
        assert await mux.execute("GET", "mux:text") == b"not a number"
    finally:
        await mux.close()


async def test_a_restarted_server_is_reconnected_and_on_connect_runs_first(throwaway_redis: RedisServer) -> None:
    seen: list[bytes] = []

    async def on_connect(send: object) -> None:
        assert callable(send)
        await send("SET", "mux:epoch", "fresh")
        seen.append(await send("GET", "mux:epoch"))

    mux = Multiplexed(throwaway_redis.url, on_connect=on_connect)
    try:
        await mux.execute("SET", "mux:epoch", "old")
        assert seen == [b"fresh"]
        await throwaway_redis.stop()
        with pytest.raises(RedisConnectionError):
            await mux.execute("GET", "mux:epoch")
        with pytest.raises(RedisConnectionError):  # refused while it is down
            await mux.execute("GET", "mux:epoch")
        await throwaway_redis.start()
        # the new connection runs on_connect before the caller's command
        assert await mux.execute("GET", "mux:epoch") == b"fresh"
        assert seen == [b"fresh", b"fresh"]
    finally:
        await mux.close()


async def test_a_server_that_never_answers_is_a_timeout_for_every_waiter() -> None:
    # a listening socket that accepts and never replies
    listener = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    mux = Multiplexed(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    try:
        results = await asyncio.gather(*(mux.execute("PING") for _ in range(5)), return_exceptions=True)
        assert len(results) == 5
        assert all(isinstance(r, RedisTimeoutError | RedisConnectionError) for r in results), results
        assert any(isinstance(r, RedisTimeoutError) for r in results)
    finally:
        await mux.close()
        listener.close()
        await listener.wait_closed()


async def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mux = Multiplexed(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(RedisConnectionError):
        await mux.execute("PING")
