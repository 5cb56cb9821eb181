"""/api/v1/orgs/<org>/companies: list, create, read, update, delete."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm import cache
from crm.auth.guard import login_required
from crm.companies import service
from crm.companies.listing import parse_list_args, version_from
from crm.companies.schemas import CompanyCreate, CompanyOut, CompanyPage, CompanyUpdate
from crm.db import get_db
from crm.http import documented_response
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("companies", __name__, url_prefix="/api/v1")


@blueprint.get("/orgs/<org>/companies")
@login_required
@cache.cached_response("companies:list", depends=("companies",), ttl=cache.TTL_LIST)
@documented_response(CompanyPage)
async def list_companies(org: OrgScope) -> dict[str, Any]:
    params = parse_list_args(request.args, name_keys=1, filters=("owner",))
    return await service.list_companies(get_db(), org=org, params=params)


@blueprint.post("/orgs/<org>/companies")
@login_required
@validate_request(CompanyCreate)
@validate_response(CompanyOut, 201)
async def create_company(org: OrgScope, data: CompanyCreate) -> tuple[dict[str, Any], int]:
    company = await service.create_company(get_db(), org=org, fields=data.model_dump())
    return company, 201


@blueprint.get("/orgs/<org>/companies/<id:company_id>")
@login_required
@cache.cached_response("companies:record", depends=("companies",), ttl=cache.TTL_RECORD, version_etag=True)
@validate_response(CompanyOut)
async def get_company(org: OrgScope, company_id: int) -> dict[str, Any]:
    return await service.get_company(get_db(), org=org, company_id=company_id)


@blueprint.patch("/orgs/<org>/companies/<id:company_id>")
@login_required
@validate_request(CompanyUpdate)
@validate_response(CompanyOut)
async def update_company(org: OrgScope, company_id: int, data: CompanyUpdate) -> dict[str, Any]:
    version = version_from(data.version, request.headers.get("If-Match"))
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    return await service.update_company(get_db(), org=org, company_id=company_id, changes=changes, version=version)


@blueprint.delete("/orgs/<org>/companies/<id:company_id>")
@login_required
async def delete_company(org: OrgScope, company_id: int) -> tuple[str, int]:
    await service.delete_company(get_db(), org=org, company_id=company_id)
    return "", 204
