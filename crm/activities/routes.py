"""/api/v1/orgs/<org>/activities. No SQL here."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm import cache
from crm.activities import service
from crm.activities.queries import SORTS, ActivityFilters
from crm.activities.schemas import ACTIVITY_TYPES, ActivityList, ActivityOut, CreateActivity, UpdateActivity
from crm.auth.guard import login_required
from crm.db import get_db
from crm.deals.common import parse_choice, parse_datetime_param, parse_if_match, prefix_tsquery, required_version
from crm.errors import APIError
from crm.http import documented_response, parse_int_param, parse_limit
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("activities", __name__, url_prefix="/api/v1")

DEFAULT_SORT = "due_at"


@blueprint.get("/orgs/<org>/activities")
@login_required
@cache.cached_response("activities:list", depends=("activities",), ttl=cache.TTL_LIST)
@documented_response(ActivityList)
async def list_activities(org: OrgScope) -> dict[str, Any]:
    args = request.args
    sort = args.get("sort") or DEFAULT_SORT
    if sort not in SORTS:
        raise APIError(422, "validation_error", fields={"sort": f"must be one of {', '.join(SORTS)}"})
    done = parse_choice("done", args.get("done"), ("true", "false"))
    owner = args.get("owner")
    filters = ActivityFilters(
        deal_id=parse_int_param("deal", args.get("deal")),
        contact_id=parse_int_param("contact", args.get("contact")),
        company_id=parse_int_param("company", args.get("company")),
        owner_id=org.user_id if owner == "me" else parse_int_param("owner", owner),
        done=None if done is None else done == "true",
        due_before=parse_datetime_param("due_before", args.get("due_before")),
        due_after=parse_datetime_param("due_after", args.get("due_after")),
        type=parse_choice("type", args.get("type"), ACTIVITY_TYPES),
        tsquery=prefix_tsquery(args.get("q")),
    )
    limit = parse_limit(args.get("limit"))
    return await service.list_activities(
        get_db(), org=org, filters=filters, sort=sort, cursor=args.get("cursor"), limit=limit
    )


@blueprint.post("/orgs/<org>/activities")
@login_required
@validate_request(CreateActivity)
@validate_response(ActivityOut, 201)
async def create_activity(org: OrgScope, data: CreateActivity) -> tuple[dict[str, Any], int]:
    activity = await service.create_activity(get_db(), org=org, fields=data.model_dump(exclude_unset=True))
    return activity, 201


@blueprint.get("/orgs/<org>/activities/<id:activity_id>")
@login_required
@cache.cached_response("activities:record", depends=("activities",), ttl=cache.TTL_RECORD, version_etag=True)
@validate_response(ActivityOut)
async def get_activity(org: OrgScope, activity_id: int) -> dict[str, Any]:
    return await service.get_activity(get_db(), org=org, activity_id=activity_id)


@blueprint.patch("/orgs/<org>/activities/<id:activity_id>")
@login_required
@validate_request(UpdateActivity)
@validate_response(ActivityOut)
async def update_activity(org: OrgScope, activity_id: int, data: UpdateActivity) -> dict[str, Any]:
    version = required_version(data.version, request.headers.get("If-Match"))
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    return await service.update_activity(get_db(), org=org, activity_id=activity_id, changes=changes, version=version)


@blueprint.delete("/orgs/<org>/activities/<id:activity_id>")
@login_required
async def delete_activity(org: OrgScope, activity_id: int) -> tuple[str, int]:
    version = parse_if_match(request.headers.get("If-Match"))
    await service.delete_activity(get_db(), org=org, activity_id=activity_id, version=version)
    return "", 204
