"""/api/v1/orgs/<org>/notifications: the inbox, mark read, settings; /api/v1/notifications across orgs."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm.auth.guard import login_required, require_principal
from crm.db import get_db
from crm.errors import APIError
from crm.http import parse_limit
from crm.notifications import service
from crm.notifications.schemas import MarkRead, MarkReadOut, NotificationList, Settings
from crm.tenancy.scope import OrgScope, viewer_allowed

blueprint = Blueprint("notifications", __name__, url_prefix="/api/v1")


def _unread_only() -> bool:
    raw = request.args.get("unread", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise APIError(422, "validation_error", fields={"unread": "must be true or false"})
    return raw in ("true", "1")


@blueprint.get("/orgs/<org>/notifications")
@login_required
@validate_response(NotificationList)
async def list_notifications(org: OrgScope) -> dict[str, Any]:
    return await service.list_notifications(
        get_db(),
        org=org,
        user_id=org.user_id,
        unread_only=_unread_only(),
        cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit")),
    )


@blueprint.post("/orgs/<org>/notifications/read")
@viewer_allowed
@login_required
@validate_request(MarkRead)
@validate_response(MarkReadOut)
async def mark_read(org: OrgScope, data: MarkRead) -> dict[str, Any]:
    return await service.mark_read(get_db(), org=org, user_id=org.user_id, ids=data.ids, mark_all=data.all)


@blueprint.get("/orgs/<org>/notifications/settings")
@login_required
@validate_response(Settings)
async def get_settings(org: OrgScope) -> dict[str, Any]:
    return await service.get_settings(get_db(), org=org)


@blueprint.patch("/orgs/<org>/notifications/settings")
@viewer_allowed
@login_required
@validate_request(Settings)
@validate_response(Settings)
async def update_settings(org: OrgScope, data: Settings) -> dict[str, Any]:
    return await service.update_settings(get_db(), org=org, notify_deal_won=data.notify_deal_won)


@blueprint.get("/notifications")
@login_required
@validate_response(NotificationList)
async def list_all_notifications() -> dict[str, Any]:
    """Every org's inbox at once, with invitations from orgs the user is not in yet."""
    principal = await require_principal()
    return await service.list_notifications(
        get_db(),
        org=None,
        user_id=principal.user_id,
        unread_only=_unread_only(),
        cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit")),
    )


@blueprint.post("/notifications/read")
@login_required
@validate_request(MarkRead)
@validate_response(MarkReadOut)
async def mark_all_orgs_read(data: MarkRead) -> dict[str, Any]:
    principal = await require_principal()
    return await service.mark_read(get_db(), org=None, user_id=principal.user_id, ids=data.ids, mark_all=data.all)
