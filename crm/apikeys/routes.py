"""/api/v1/orgs/<org>/api-keys: an org's keys for scripts and integrations."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import validate_request, validate_response

from crm.apikeys import service
from crm.apikeys.schemas import ApiKeyCreated, ApiKeyList, CreateApiKey
from crm.auth.guard import login_required
from crm.db import get_db
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("apikeys", __name__, url_prefix="/api/v1")


@blueprint.post("/orgs/<org>/api-keys")
@login_required
@validate_request(CreateApiKey)
@validate_response(ApiKeyCreated, 201)
async def create_api_key(org: OrgScope, data: CreateApiKey) -> tuple[dict[str, Any], int]:
    row, key = await service.create_api_key(get_db(), org=org, name=data.name, role=data.role)
    return {**row, "key": key}, 201


@blueprint.get("/orgs/<org>/api-keys")
@login_required
@validate_response(ApiKeyList)
async def list_api_keys(org: OrgScope) -> dict[str, Any]:
    rows = await service.list_api_keys(get_db(), org=org)
    return {"items": [dict(row) for row in rows], "next_cursor": None}


@blueprint.delete("/orgs/<org>/api-keys/<id:key_id>")
@login_required
async def revoke_api_key(org: OrgScope, key_id: int) -> tuple[str, int]:
    await service.revoke_api_key(get_db(), org=org, key_id=key_id)
    return "", 204
