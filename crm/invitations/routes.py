"""/api/v1/orgs/<org>/invitations and /api/v1/invitations/accept."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm.auth.guard import login_required, require_principal
from crm.db import get_db
from crm.http import parse_limit
from crm.invitations import service
from crm.invitations.schemas import AcceptInvitation, CreateInvitation, InvitationList, InvitationOut, JoinedOrg
from crm.redis import get_redis
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("invitations", __name__, url_prefix="/api/v1")


@blueprint.post("/orgs/<org>/invitations")
@login_required
@validate_request(CreateInvitation)
@validate_response(InvitationOut, 201)
async def create_invitation(org: OrgScope, data: CreateInvitation) -> tuple[dict[str, Any], int]:
    invitation = await service.create_invitation(get_db(), get_redis(), org=org, email=data.email, role=data.role)
    return invitation, 201


@blueprint.get("/orgs/<org>/invitations")
@login_required
@validate_response(InvitationList)
async def list_invitations(org: OrgScope) -> dict[str, Any]:
    limit = parse_limit(request.args.get("limit"))
    return await service.list_pending(get_db(), org=org, limit=limit, cursor=request.args.get("cursor"))


@blueprint.delete("/orgs/<org>/invitations/<id:invitation_id>")
@login_required
async def revoke_invitation(org: OrgScope, invitation_id: int) -> tuple[str, int]:
    await service.revoke_invitation(get_db(), get_redis(), org=org, invitation_id=invitation_id)
    return "", 204


@blueprint.post("/invitations/accept")
@login_required
@validate_request(AcceptInvitation)
@validate_response(JoinedOrg)
async def accept_invitation(data: AcceptInvitation) -> dict[str, Any]:
    principal = await require_principal()
    return await service.accept_invitation(get_db(), token=data.token, user_id=principal.user_id)
