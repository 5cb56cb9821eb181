"""Pages for chat, the inbox, org settings, the personal account and the sign-in flows around email links.

No SQL here: each page reads its state through the same services as the API, after the org's seq.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, render_template, request

from crm.auth import queries as user_queries
from crm.auth.guard import current_principal
from crm.chat import service as chat_service
from crm.db import get_db
from crm.deals import stages as stages_service
from crm.errors import APIError
from crm.invitations import service as invitations_service
from crm.notifications import service as notifications_service
from crm.tenancy import queries as tenancy_queries
from crm.tenancy.scope import OrgScope
from crm.web.pages import current_seq, page_login_required, shell_context

blueprint = Blueprint("webapp", __name__)

MESSAGE_PAGE = 50
ADMIN_ROLES = ("owner", "admin")


def _token() -> str:
    return request.args.get("token", "")[:256]


@blueprint.get("/forgot-password")
async def forgot_password() -> str:
    return await render_template("pages/forgot_password.html")


@blueprint.get("/reset-password")
async def reset_password() -> str:
    return await render_template("pages/reset_password.html", token=_token())


@blueprint.get("/verify-email")
async def verify_email() -> str:
    return await render_template("pages/verify_email.html", token=_token())


@blueprint.get("/invite")
async def invite() -> str:
    signed_in = await current_principal() is not None
    context = await shell_context() if signed_in else {}
    return await render_template("pages/invite.html", token=_token(), signed_in=signed_in, **context)


@blueprint.get("/o/<org>/chat")
@blueprint.get("/o/<org>/chat/<id:channel_id>")
@page_login_required
async def chat(org: OrgScope, channel_id: int | None = None) -> str:
    db = get_db()
    seq = await current_seq(org)
    channels = (await chat_service.list_channels(db, org=org, kind=None, archived=False, cursor=None, limit=200))[
        "items"
    ]
    if channel_id is None and channels:
        channel_id = channels[0]["id"]
    messages: dict[str, Any] = {"items": [], "next_cursor": None}
    if channel_id is not None:
        try:
            messages = await chat_service.list_messages(
                db, org=org, channel_id=channel_id, cursor=None, limit=MESSAGE_PAGE
            )
        except APIError as error:
            if error.status != 404:
                raise
            raise APIError(404, "channel_not_found", "No such channel.") from error
    state = {
        "seq": seq,
        "channels": channels,
        "channel_id": channel_id,
        "messages": messages,
        "members": await _members_with_handles(org),
        "can_write": org.can_write,
    }
    return await render_template("pages/chat.html", page="chat", state=state, **await shell_context(org))


async def _members_with_handles(org: OrgScope) -> list[dict[str, Any]]:
    """Members with the @handle a mention of them can use (their email's local part)."""
    rows = await tenancy_queries.select_members(get_db(), org_id=org.id)
    return [
        {"id": m["user_id"], "name": m["name"], "role": m["role"], "handle": str(m["email"]).split("@")[0]}
        for m in rows
    ]


@blueprint.get("/o/<org>/inbox")
@page_login_required
async def inbox(org: OrgScope) -> str:
    seq = await current_seq(org)
    notifications = await notifications_service.list_notifications(
        get_db(), org=org, user_id=org.user_id, unread_only=False, cursor=None, limit=50
    )
    state = {"seq": seq, "notifications": notifications}
    return await render_template("pages/inbox.html", page="inbox", state=state, **await shell_context(org))


@blueprint.get("/o/<org>/settings")
@page_login_required
async def settings(org: OrgScope) -> str:
    db = get_db()
    is_admin = org.role in ADMIN_ROLES
    org_row = await tenancy_queries.select_org(db, org_id=org.id)
    invitations: list[dict[str, Any]] = []
    if is_admin:
        invitations = (await invitations_service.list_pending(db, org=org, limit=200, cursor=None))["items"]
    state = {
        "seq": await current_seq(org),
        "org": {
            "name": org.name,
            "require_2fa": bool(org_row["require_2fa"]) if org_row else False,
            "version": org_row["version"] if org_row else None,
        },
        "stages": await stages_service.list_stages(db, org=org),
        "members": [
            {"user_id": m["user_id"], "name": m["name"], "email": m["email"], "role": m["role"]}
            for m in await tenancy_queries.select_members(db, org_id=org.id)
        ],
        "invitations": invitations,
        "is_admin": is_admin,
        "is_owner": org.role == "owner",
        "self_id": org.user_id,
    }
    return await render_template("pages/settings.html", page="settings", state=state, **await shell_context(org))


@blueprint.get("/account")
@page_login_required
async def account() -> str:
    context = await shell_context()
    admin_orgs = [o for o in context["orgs"] if o["role"] in ADMIN_ROLES]
    user = await user_queries.select_user(get_db(), user_id=context["user"]["id"])
    verified = bool(user and user["email_verified_at"] is not None)
    state = {"admin_orgs": admin_orgs, "user": context["user"], "email_verified": verified}
    return await render_template("pages/account.html", page="account", state=state, **context)
