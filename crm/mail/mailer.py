"""Send a message: through SMTP (`SMTP_URL=smtp://user:pass@host:port`, or `smtps://`)
in the background, or, without SMTP_URL, to the log and the dev mailbox in Redis
(`tc:devmail`, newest first, capped) so that every flow can be finished locally.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import orjson
from quart import current_app

from crm.config import Config
from crm.redis import RedisHub, get_redis

log = logging.getLogger(__name__)

DEVMAIL_KEY = "tc:devmail"
DEVMAIL_CAP = 200
LINK_RE = re.compile(r"https?://\S+")


@dataclass
class Message:
    to: str
    subject: str
    text: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: float = field(default_factory=time.time)

    @property
    def links(self) -> list[str]:
        return LINK_RE.findall(self.text)


def sender(config: Config) -> str:
    host = urlsplit(config.base_url).hostname or "localhost"
    return f"TinyCRM <no-reply@{host}>"


def to_email(config: Config, message: Message) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender(config)
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message.id}@tinycrm>"
    email.set_content(message.text)
    return email


async def send_smtp(smtp_url: str, email: EmailMessage) -> None:
    parts = urlsplit(smtp_url)
    implicit_tls = parts.scheme == "smtps"
    await aiosmtplib.send(
        email,
        hostname=parts.hostname or "localhost",
        port=parts.port or (465 if implicit_tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=implicit_tls,
        start_tls=None if not implicit_tls else False,
        timeout=20,
    )


async def _send_in_background(smtp_url: str, email: EmailMessage) -> None:
    try:
        await send_smtp(smtp_url, email)
    except (aiosmtplib.SMTPException, OSError):
        log.exception("sending mail to %s failed", email["To"])


async def store_devmail(hub: RedisHub, message: Message) -> None:
    payload = orjson.dumps({**asdict(message), "links": message.links})

    async def push(client: Any) -> None:
        async with client.pipeline(transaction=True) as pipe:
            pipe.lpush(DEVMAIL_KEY, payload)
            pipe.ltrim(DEVMAIL_KEY, 0, DEVMAIL_CAP - 1)
            await pipe.execute()

    await hub.guarded(push, None)


async def read_devmail(hub: RedisHub, *, to: str | None = None) -> list[dict[str, Any]]:
    empty: list[Any] = []
    raw: list[Any] = await hub.guarded(lambda c: c.lrange(DEVMAIL_KEY, 0, DEVMAIL_CAP - 1), empty)
    items = [orjson.loads(item) for item in raw]
    if to:
        items = [item for item in items if item["to"].lower() == to.lower()]
    return items


async def send(message: Message) -> None:
    """Send without making the caller wait for an SMTP server."""
    config: Config = current_app.config["TINYCRM"]
    if config.smtp_url:
        current_app.add_background_task(_send_in_background, config.smtp_url, to_email(config, message))
        return
    log.info("mail to %s: %s\n%s", message.to, message.subject, message.text)
    await store_devmail(get_redis(), message)
