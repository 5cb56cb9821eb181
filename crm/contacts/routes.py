"""/api/v1/orgs/<org>/contacts: list, create, read, update, delete."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm import cache
from crm.auth.guard import login_required
from crm.companies.listing import parse_list_args, version_from
from crm.contacts import service
from crm.contacts.schemas import ContactCreate, ContactOut, ContactPage, ContactUpdate
from crm.db import get_db
from crm.http import documented_response
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("contacts", __name__, url_prefix="/api/v1")


@blueprint.get("/orgs/<org>/contacts")
@login_required
@cache.cached_response("contacts:list", depends=("contacts",), ttl=cache.TTL_LIST)
@documented_response(ContactPage)
async def list_contacts(org: OrgScope) -> dict[str, Any]:
    params = parse_list_args(request.args, name_keys=2, filters=("owner", "company"))
    return await service.list_contacts(get_db(), org=org, params=params)


@blueprint.post("/orgs/<org>/contacts")
@login_required
@validate_request(ContactCreate)
@validate_response(ContactOut, 201)
async def create_contact(org: OrgScope, data: ContactCreate) -> tuple[dict[str, Any], int]:
    contact = await service.create_contact(get_db(), org=org, fields=data.model_dump())
    return contact, 201


@blueprint.get("/orgs/<org>/contacts/<id:contact_id>")
@login_required
@cache.cached_response("contacts:record", depends=("contacts",), ttl=cache.TTL_RECORD, version_etag=True)
@validate_response(ContactOut)
async def get_contact(org: OrgScope, contact_id: int) -> dict[str, Any]:
    return await service.get_contact(get_db(), org=org, contact_id=contact_id)


@blueprint.patch("/orgs/<org>/contacts/<id:contact_id>")
@login_required
@validate_request(ContactUpdate)
@validate_response(ContactOut)
async def update_contact(org: OrgScope, contact_id: int, data: ContactUpdate) -> dict[str, Any]:
    version = version_from(data.version, request.headers.get("If-Match"))
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    return await service.update_contact(get_db(), org=org, contact_id=contact_id, changes=changes, version=version)


@blueprint.delete("/orgs/<org>/contacts/<id:contact_id>")
@login_required
async def delete_contact(org: OrgScope, contact_id: int) -> tuple[str, int]:
    await service.delete_contact(get_db(), org=org, contact_id=contact_id)
    return "", 204
