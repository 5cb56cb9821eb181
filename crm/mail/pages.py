"""The dev mailbox: mail that would have been sent, while SMTP_URL is unset."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, render_template_string, request

from crm.errors import APIError
from crm.mail import mailer
from crm.redis import get_redis

blueprint = Blueprint("mail_pages", __name__)

MAILBOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dev mailbox · TinyCRM</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root { color-scheme: light dark; --line: #8884; }
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
article { border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 1rem 0; }
pre { white-space: pre-wrap; margin: .5rem 0 0; }
</style></head>
<body><h1>Dev mailbox</h1>
<p>SMTP_URL is not set, so outgoing mail lands here (newest first).</p>
{% for m in messages %}<article>
<h2>{{ m.subject }}</h2><p>To: {{ m.to }}</p>
<pre>{{ m.text }}</pre>
{% for link in m.links %}<p><a href="{{ link }}">{{ link }}</a></p>{% endfor %}
</article>{% else %}<p>No mail yet.</p>{% endfor %}
</body></html>
"""


def _require_dev_mode() -> None:
    if current_app.config["TINYCRM"].smtp_url:
        raise APIError(404, "not_found")


@blueprint.get("/dev/mailbox")
async def mailbox() -> str:
    """The dev mailbox as a page."""
    _require_dev_mode()
    messages = await mailer.read_devmail(get_redis(), to=request.args.get("to"))
    return await render_template_string(MAILBOX_PAGE, messages=messages)


@blueprint.get("/dev/mailbox.json")
async def mailbox_json() -> dict[str, Any]:
    """The dev mailbox for scripts and tests: `{"items": [...]}`, newest first; `?to=` filters."""
    _require_dev_mode()
    return {"items": await mailer.read_devmail(get_redis(), to=request.args.get("to")), "next_cursor": None}
