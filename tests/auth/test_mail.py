"""Outgoing mail through a real (local, minimal) SMTP server when SMTP_URL is set."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message

import pytest
from quart import Quart

from crm.config import Config
from tests.auth.support import drain_background
from tests.helpers import Api, User


class SmtpSink:
    """Just enough of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) to receive mail."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.credentials: list[tuple[str, str]] = []
        self.recipients: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> SmtpSink:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 sink ESMTP")
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                await reply("250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                self.credentials.append((user, password))
                await reply("235 2.7.0 Authentication successful")
            elif verb == "RCPT":
                self.recipients.append(line.split(":", 1)[1].strip("<> "))
                await reply("250 OK")
            elif verb == "DATA":
                await reply("354 End data with <CR><LF>.<CR><LF>")
                body = b""
                while (chunk := await reader.readline()) != b".\r\n":
                    body += chunk
                self.messages.append(message_from_bytes(body))
                await reply("250 OK queued")
            elif verb == "QUIT":
                await reply("221 Bye")
                break
            else:
                await reply("250 OK")
        writer.close()


@pytest.fixture
async def smtp(config: Config, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SmtpSink]:
    sink = await SmtpSink().start()
    monkeypatch.setattr(config, "smtp_url", f"smtp://mailer:p%40ss@127.0.0.1:{sink.port}")
    yield sink
    await sink.stop()


async def test_reset_mail_goes_out_through_smtp(app: Quart, api: Api, alice: User, smtp: SmtpSink) -> None:
    response = await api.request("POST", "/api/v1/auth/password-reset", json={"email": alice.email})
    assert response.status == 202
    await drain_background(app)
    assert smtp.credentials == [("mailer", "p@ss")]
    assert smtp.recipients == [alice.email]
    [message] = smtp.messages
    assert message["To"] == alice.email
    assert message["Subject"] == "Reset your TinyCRM password"
    assert message["From"] == "TinyCRM <no-reply@localhost>"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert b"http://localhost/reset-password?token=" in body


async def test_dev_mailbox_is_off_when_smtp_is_configured(api: Api, smtp: SmtpSink) -> None:
    assert (await api.request("GET", "/dev/mailbox.json")).status == 404
    assert (await api.request("GET", "/dev/mailbox")).status == 404
