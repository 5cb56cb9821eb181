"""/api/v1/orgs: orgs and their members."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from crm import cache
from crm.auth.guard import login_required, require_principal
from crm.db import get_db
from crm.tenancy import queries, service
from crm.tenancy.schemas import AddMember, ChangeMember, CreateOrg, MemberList, MemberOut, OrgOut, UpdateOrg
from crm.tenancy.scope import OrgScope, viewer_allowed

blueprint = Blueprint("tenancy", __name__, url_prefix="/api/v1")


@blueprint.post("/orgs")
@login_required
@validate_request(CreateOrg)
@validate_response(OrgOut, 201)
async def create_org(data: CreateOrg) -> tuple[dict[str, Any], int]:
    principal = await require_principal()
    org = await service.create_org(
        get_db(), user_id=principal.user_id, name=data.name, slug=data.slug, currency=data.currency
    )
    return org, 201


@blueprint.get("/orgs/<org>")
@login_required
@cache.cached_response("org", depends=("org",), ttl=cache.TTL_RECORD, vary=("role",))
@validate_response(OrgOut)
async def get_org(org: OrgScope) -> dict[str, Any]:
    row = await queries.select_org(get_db(), org_id=org.id)
    return {**dict(row or {}), "role": org.role}


@blueprint.patch("/orgs/<org>")
@login_required
@validate_request(UpdateOrg)
@validate_response(OrgOut)
async def update_org(org: OrgScope, data: UpdateOrg) -> dict[str, Any]:
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    changes = {k: v for k, v in changes.items() if v is not None}
    return await service.update_org(get_db(), org=org, changes=changes, version=data.version)


@blueprint.get("/orgs/<org>/members")
@login_required
@cache.cached_response("members:list", depends=("members",), ttl=cache.TTL_LIST)
@validate_response(MemberList)
async def list_members(org: OrgScope) -> dict[str, Any]:
    members = await queries.select_members(get_db(), org_id=org.id)
    return {"items": [dict(m) for m in members], "next_cursor": None}


@blueprint.post("/orgs/<org>/members")
@login_required
@validate_request(AddMember)
@validate_response(MemberOut, 201)
async def add_member(org: OrgScope, data: AddMember) -> tuple[dict[str, Any], int]:
    member = await service.add_member(get_db(), org=org, email=data.email, role=data.role)
    return dict(member), 201


@blueprint.patch("/orgs/<org>/members/<id:user_id>")
@login_required
@validate_request(ChangeMember)
@validate_response(MemberOut)
async def change_member(org: OrgScope, user_id: int, data: ChangeMember) -> dict[str, Any]:
    return dict(await service.change_member_role(get_db(), org=org, user_id=user_id, role=data.role))


@blueprint.delete("/orgs/<org>/members/<id:user_id>")
@viewer_allowed
@login_required
async def remove_member(org: OrgScope, user_id: int) -> tuple[str, int]:
    await service.remove_member(get_db(), org=org, user_id=user_id)
    return "", 204
