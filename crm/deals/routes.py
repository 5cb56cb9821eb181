"""/api/v1/orgs/<org>/stages, /deals (with /move) and /pipeline. No SQL here."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_request, validate_response

from crm import cache
from crm.auth.guard import login_required
from crm.db import get_db
from crm.deals import service, stages
from crm.deals.common import parse_choice, parse_datetime_param, parse_if_match, prefix_tsquery, required_version
from crm.deals.queries import SORTS, STATUS_SQL, DealFilters
from crm.deals.schemas import (
    CreateDeal,
    CreateStage,
    DealList,
    DealOut,
    MoveDeal,
    Pipeline,
    StageList,
    StageOut,
    UpdateDeal,
    UpdateStage,
)
from crm.errors import APIError
from crm.http import documented_response, parse_int_param, parse_limit
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("deals", __name__, url_prefix="/api/v1")

DEFAULT_SORT = "-updated_at"
DEFAULT_PER_STAGE = 100
MAX_PER_STAGE = 500


def _owner_param(org: OrgScope) -> int | None:
    raw = request.args.get("owner")
    return org.user_id if raw == "me" else parse_int_param("owner", raw)


@blueprint.get("/orgs/<org>/stages")
@login_required
@cache.cached_response("stages:list", depends=("stages", "pipeline"), ttl=cache.TTL_LIST)
@validate_response(StageList)
async def list_stages(org: OrgScope) -> dict[str, Any]:
    return {"items": await stages.list_stages(get_db(), org=org), "next_cursor": None}


@blueprint.post("/orgs/<org>/stages")
@login_required
@validate_request(CreateStage)
@validate_response(StageOut, 201)
async def create_stage(org: OrgScope, data: CreateStage) -> tuple[dict[str, Any], int]:
    stage = await stages.create_stage(get_db(), org=org, name=data.name, kind=data.kind, position=data.position)
    return stage, 201


@blueprint.patch("/orgs/<org>/stages/<id:stage_id>")
@login_required
@validate_request(UpdateStage)
@validate_response(StageOut)
async def update_stage(org: OrgScope, stage_id: int, data: UpdateStage) -> dict[str, Any]:
    version = data.version if data.version is not None else parse_if_match(request.headers.get("If-Match"))
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    return await stages.update_stage(get_db(), org=org, stage_id=stage_id, changes=changes, version=version)


@blueprint.delete("/orgs/<org>/stages/<id:stage_id>")
@login_required
async def delete_stage(org: OrgScope, stage_id: int) -> tuple[str, int]:
    await stages.delete_stage(get_db(), org=org, stage_id=stage_id)
    return "", 204


@blueprint.get("/orgs/<org>/deals")
@login_required
@cache.cached_response("deals:list", depends=("deals",), ttl=cache.TTL_LIST)
@documented_response(DealList)
async def list_deals(org: OrgScope) -> dict[str, Any]:
    args = request.args
    sort = args.get("sort") or DEFAULT_SORT
    if sort not in SORTS:
        raise APIError(422, "validation_error", fields={"sort": f"must be one of {', '.join(SORTS)}"})
    filters = DealFilters(
        stage_id=parse_int_param("stage", args.get("stage")),
        owner_id=_owner_param(org),
        company_id=parse_int_param("company", args.get("company")),
        contact_id=parse_int_param("contact", args.get("contact")),
        updated_since=parse_datetime_param("updated_since", args.get("updated_since")),
        status=parse_choice("status", args.get("status"), tuple(STATUS_SQL)),
        tsquery=prefix_tsquery(args.get("q")),
    )
    limit = parse_limit(args.get("limit"))
    return await service.list_deals(
        get_db(), org=org, filters=filters, sort=sort, cursor=args.get("cursor"), limit=limit
    )


@blueprint.post("/orgs/<org>/deals")
@login_required
@validate_request(CreateDeal)
@validate_response(DealOut, 201)
async def create_deal(org: OrgScope, data: CreateDeal) -> tuple[dict[str, Any], int]:
    deal = await service.create_deal(get_db(), org=org, fields=data.model_dump(exclude_unset=True))
    return deal, 201


@blueprint.get("/orgs/<org>/deals/<id:deal_id>")
@login_required
@cache.cached_response("deals:record", depends=("deals",), ttl=cache.TTL_RECORD, version_etag=True)
@validate_response(DealOut)
async def get_deal(org: OrgScope, deal_id: int) -> dict[str, Any]:
    return await service.get_deal(get_db(), org=org, deal_id=deal_id)


@blueprint.patch("/orgs/<org>/deals/<id:deal_id>")
@login_required
@validate_request(UpdateDeal)
@validate_response(DealOut)
async def update_deal(org: OrgScope, deal_id: int, data: UpdateDeal) -> dict[str, Any]:
    version = required_version(data.version, request.headers.get("If-Match"))
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    return await service.update_deal(get_db(), org=org, deal_id=deal_id, changes=changes, version=version)


@blueprint.post("/orgs/<org>/deals/<id:deal_id>/move")
@login_required
@validate_request(MoveDeal)
@validate_response(DealOut)
async def move_deal(org: OrgScope, deal_id: int, data: MoveDeal) -> dict[str, Any]:
    return await service.move_deal(
        get_db(),
        org=org,
        deal_id=deal_id,
        stage_id=data.stage_id,
        before_id=data.before_id,
        after_id=data.after_id,
        version=required_version(data.version, request.headers.get("If-Match")),
    )


@blueprint.delete("/orgs/<org>/deals/<id:deal_id>")
@login_required
async def delete_deal(org: OrgScope, deal_id: int) -> tuple[str, int]:
    version = parse_if_match(request.headers.get("If-Match"))
    await service.delete_deal(get_db(), org=org, deal_id=deal_id, version=version)
    return "", 204


@blueprint.get("/orgs/<org>/pipeline")
@login_required
@cache.cached_response("pipeline", depends=("pipeline",), ttl=cache.TTL_LIST)
@validate_response(Pipeline)
async def pipeline(org: OrgScope) -> dict[str, Any]:
    raw = request.args.get("per_stage") or str(DEFAULT_PER_STAGE)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_STAGE:
        raise APIError(422, "validation_error", fields={"per_stage": f"must be between 1 and {MAX_PER_STAGE}"})
    per_stage = int(raw)
    filters = DealFilters(owner_id=_owner_param(org), tsquery=prefix_tsquery(request.args.get("q")))
    return await service.pipeline(get_db(), org=org, filters=filters, per_stage=per_stage)
