"""/api/v1/orgs/<org>/channels, deal threads, messages, read positions and chat search."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm.auth.guard import login_required
from crm.chat import service
from crm.chat.schemas import (
    AddMembers,
    ChannelList,
    ChannelOut,
    CreateChannel,
    EditMessage,
    MarkRead,
    MessageList,
    MessageOut,
    PostMessage,
    ReadOut,
    UpdateChannel,
)
from crm.db import get_db
from crm.errors import APIError
from crm.http import parse_limit
from crm.ratelimit import rate_limit
from crm.tenancy.scope import OrgScope, viewer_allowed

blueprint = Blueprint("chat", __name__, url_prefix="/api/v1")

CHANNEL_KINDS = ("public", "private", "dm", "deal")


def _flag(name: str) -> bool:
    raw = request.args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise APIError(422, "validation_error", fields={name: "must be true or false"})
    return raw in ("true", "1")


@blueprint.get("/orgs/<org>/channels")
@login_required
@validate_response(ChannelList)
async def list_channels(org: OrgScope) -> dict[str, Any]:
    kind = request.args.get("kind") or None
    if kind is not None and kind not in CHANNEL_KINDS:
        raise APIError(422, "validation_error", fields={"kind": f"one of {', '.join(CHANNEL_KINDS)}"})
    return await service.list_channels(
        get_db(),
        org=org,
        kind=kind,
        archived=_flag("archived"),
        cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit")),
    )


@blueprint.post("/orgs/<org>/channels")
@login_required
@validate_request(CreateChannel)
@validate_response(ChannelOut, 201)
@validate_response(ChannelOut, 200)
async def create_channel(org: OrgScope, data: CreateChannel) -> tuple[dict[str, Any], int]:
    channel, created = await service.create_channel(
        get_db(), org=org, kind=data.kind, name=data.name, member_ids=data.member_ids
    )
    return channel, 201 if created else 200


@blueprint.get("/orgs/<org>/deals/<id:deal_id>/thread")
@login_required
@validate_response(ChannelOut)
async def deal_thread(org: OrgScope, deal_id: int) -> dict[str, Any]:
    return await service.deal_thread(get_db(), org=org, deal_id=deal_id)


@blueprint.get("/orgs/<org>/channels/<id:channel_id>")
@login_required
@validate_response(ChannelOut)
async def get_channel(org: OrgScope, channel_id: int) -> dict[str, Any]:
    return await service.visible_channel(get_db(), org=org, channel_id=channel_id)


@blueprint.patch("/orgs/<org>/channels/<id:channel_id>")
@login_required
@validate_request(UpdateChannel)
@validate_response(ChannelOut)
async def update_channel(org: OrgScope, channel_id: int, data: UpdateChannel) -> dict[str, Any]:
    return await service.update_channel(
        get_db(), org=org, channel_id=channel_id, name=data.name, archived=data.archived, version=data.version
    )


@blueprint.post("/orgs/<org>/channels/<id:channel_id>/members")
@login_required
@validate_request(AddMembers)
@validate_response(ChannelOut)
async def add_members(org: OrgScope, channel_id: int, data: AddMembers) -> dict[str, Any]:
    return await service.add_members(get_db(), org=org, channel_id=channel_id, user_ids=data.user_ids)


@blueprint.delete("/orgs/<org>/channels/<id:channel_id>/members/<id:user_id>")
@login_required
async def remove_member(org: OrgScope, channel_id: int, user_id: int) -> tuple[str, int]:
    await service.remove_member(get_db(), org=org, channel_id=channel_id, user_id=user_id)
    return "", 204


@blueprint.get("/orgs/<org>/channels/<id:channel_id>/messages")
@login_required
@validate_response(MessageList)
async def list_messages(org: OrgScope, channel_id: int) -> dict[str, Any]:
    # `before` is the documented name of the cursor here; `cursor` works too
    cursor = request.args.get("before") or request.args.get("cursor")
    return await service.list_messages(
        get_db(), org=org, channel_id=channel_id, cursor=cursor, limit=parse_limit(request.args.get("limit"))
    )


@blueprint.post("/orgs/<org>/channels/<id:channel_id>/messages")
@login_required
@validate_request(PostMessage)
@validate_response(MessageOut, 201)
@validate_response(MessageOut, 200)
async def post_message(org: OrgScope, channel_id: int, data: PostMessage) -> tuple[dict[str, Any], int]:
    message, created = await service.post_message(
        get_db(), org=org, channel_id=channel_id, body=data.body, client_id=data.client_id
    )
    return message, 201 if created else 200


@blueprint.patch("/orgs/<org>/channels/<id:channel_id>/messages/<id:message_id>")
@login_required
@validate_request(EditMessage)
@validate_response(MessageOut)
async def edit_message(org: OrgScope, channel_id: int, message_id: int, data: EditMessage) -> dict[str, Any]:
    return await service.edit_message(
        get_db(), org=org, channel_id=channel_id, message_id=message_id, body=data.body, version=data.version
    )


@blueprint.delete("/orgs/<org>/channels/<id:channel_id>/messages/<id:message_id>")
@login_required
async def delete_message(org: OrgScope, channel_id: int, message_id: int) -> tuple[str, int]:
    await service.delete_message(get_db(), org=org, channel_id=channel_id, message_id=message_id)
    return "", 204


@blueprint.post("/orgs/<org>/channels/<id:channel_id>/read")
@viewer_allowed
@login_required
@validate_request(MarkRead)
@validate_response(ReadOut)
async def mark_read(org: OrgScope, channel_id: int, data: MarkRead) -> dict[str, Any]:
    return await service.mark_read(get_db(), org=org, channel_id=channel_id, message_id=data.message_id)


@blueprint.get("/orgs/<org>/chat/search")
@login_required
@rate_limit("search")
@validate_response(MessageList)
async def search(org: OrgScope) -> dict[str, Any]:
    return await service.search(
        get_db(),
        org=org,
        q=request.args.get("q", ""),
        cursor=request.args.get("cursor"),
        limit=parse_limit(request.args.get("limit")),
    )
