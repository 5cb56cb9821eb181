"""Bad input gets an error ack or a disconnect; the server and other users' sockets carry on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
import socketio
from websockets.asyncio.client import connect as ws_connect

from tests.realtime.conftest import PASSWORD, TIMEOUT, Instance, LiveClient, Person


async def test_connect_without_valid_credentials_is_refused(
    instances: tuple[Instance, Instance], alice: Person
) -> None:
    for auth in ({}, {"token": "nonsense"}, {"token": alice.token + "x"}, {"token": 5}, "token"):
        client = LiveClient(instances[0], alice)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(auth=auth)


async def test_connect_from_a_foreign_origin_is_refused(instances: tuple[Instance, Instance], alice: Person) -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            instances[0].url,
            auth={"token": alice.token},
            headers={"Origin": "http://evil.example"},
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )


async def test_unknown_events_and_malformed_payloads_get_error_acks(
    instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    client = await alice.connect(instances[0])
    unknown = await client.call("org:explode", {"org": org["slug"]})
    assert unknown["ok"] is False and unknown["error"]["code"] == "unknown_event"

    for payload in (None, "acme", [org["slug"]], 5, {}, {"org": True}, {"org": ""}, {"org": "x" * 65},
                    {"org": 0}, {"org": org["slug"], "after_seq": -1}, {"org": org["slug"], "after_seq": "3"},
                    {"org": 1.5}):  # fmt: skip
        ack = await client.call("org:join", payload)
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (payload, ack)

    two_args = await client.sio.call("org:join", ({"org": org["slug"]}, {"org": org["slug"]}), timeout=TIMEOUT)
    assert two_args["error"]["code"] == "bad_request"
    too_big = await client.call("org:join", {"org": org["slug"], "padding": "x" * 20_000})
    assert too_big["error"]["code"] == "payload_too_large"
    leave_unjoined = await client.call("org:leave", {"org": org["slug"]})
    assert leave_unjoined["error"]["code"] == "not_found"

    assert (await client.join(org["slug"]))["org"] == org["id"]
    assert (await client.call("org:leave", {"org": org["id"]})) == {"ok": True, "org": org["id"]}


async def test_oversized_message_disconnects_only_that_socket(
    instances: tuple[Instance, Instance], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    offender, bystander = await bob.connect(instances[0]), await alice.connect(instances[0])
    await offender.sio.emit("org:join", {"org": "x" * 400_000})
    await asyncio.wait_for(offender.disconnected.wait(), TIMEOUT)
    assert (await bystander.join(org["slug"]))["ok"] is True


async def test_flood_is_refused_then_disconnected(
    spawn: Callable[..., Any], alice: Person, bob: Person, org: dict[str, Any]
) -> None:
    instance = await spawn(TINYCRM_SOCKET_RATE="20/3600")
    flooder, bystander = await bob.connect(instance), await alice.connect(instance)

    acks = [await flooder.call("org:join", {"org": org["slug"]}) for _ in range(25)]
    codes = [ack["error"]["code"] for ack in acks]
    assert codes == ["not_found"] * 20 + ["rate_limited"] * 5

    for _ in range(50):
        if not flooder.sio.connected:
            break
        await flooder.sio.emit("org:join", {"org": org["slug"]})
    await asyncio.wait_for(flooder.disconnected.wait(), TIMEOUT)
    assert (await bystander.join(org["slug"]))["ok"] is True


async def test_browser_session_cookie_connects_only_from_base_url_origin(
    instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    async with aiohttp.ClientSession() as http:
        form = {"email": alice.email, "password": PASSWORD}
        async with http.post(f"{instances[0].url}/api/v1/auth/login", json=form) as response:
            assert response.status == 200
            cookie = response.cookies["tc_session"].value

    headers = {"Cookie": f"tc_session={cookie}"}
    ours = socketio.AsyncClient(reconnection=False)
    await ours.connect(
        instances[1].url, headers={**headers, "Origin": "http://localhost"}, transports=["websocket"],
        wait_timeout=TIMEOUT,
    )  # fmt: skip
    try:
        ack = await ours.call("org:join", {"org": org["slug"]}, timeout=TIMEOUT)
        assert ack["ok"] is True and ack["org"] == org["id"]
    finally:
        await ours.disconnect()

    theirs = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await theirs.connect(
            instances[1].url, headers={**headers, "Origin": "http://evil.example"}, transports=["websocket"],
            wait_timeout=TIMEOUT,
        )  # fmt: skip


async def test_events_before_authentication_are_ignored(
    instances: tuple[Instance, Instance], alice: Person, org: dict[str, Any]
) -> None:
    url = instances[0].url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with ws_connect(url, compression=None) as raw:
        assert (await asyncio.wait_for(raw.recv(), TIMEOUT)).startswith("0")  # engine.io open
        await raw.send('421["org:join",{"org":"' + org["slug"] + '"}]')  # an event before connecting
        await raw.send('40{"token":"forged"}')
        refused = await asyncio.wait_for(raw.recv(), TIMEOUT)
        assert refused.startswith("44") and "not_authenticated" in refused
        await raw.send('422["org:join",{"org":"' + org["slug"] + '"}]')  # and after being refused
        await raw.send("40" + orjson.dumps({"token": alice.token}).decode())
        accepted = await asyncio.wait_for(raw.recv(), TIMEOUT)
        assert accepted.startswith("40")
        # the only ack this socket ever gets is for the event sent once connected
        await raw.send('423["org:join",{"org":"' + org["slug"] + '"}]')
        ack = await asyncio.wait_for(raw.recv(), TIMEOUT)
        assert ack.startswith("433") and orjson.loads(ack[3:])[0]["ok"] is True
