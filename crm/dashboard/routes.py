"""/api/v1/orgs/<org>/dashboard: the stats and the chart series of the dashboard page."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from quart_schema import validate_response

from crm import cache
from crm.auth.guard import login_required
from crm.dashboard import service
from crm.dashboard.schemas import StatsOut, WonOverTimeOut
from crm.db import get_db
from crm.errors import APIError
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("dashboard", __name__, url_prefix="/api/v1")

MAX_MONTHS = 60


def parse_months(raw: str | None) -> int:
    if raw is None or raw == "":
        return 12
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MONTHS:
        raise APIError(422, "validation_error", fields={"months": f"must be an integer between 1 and {MAX_MONTHS}"})
    return int(raw)


@blueprint.get("/orgs/<org>/dashboard/stats")
@login_required
@cache.cached_response("dashboard:stats", depends=("dashboard", "org"), ttl=cache.TTL_STATS, key_extra=cache.utc_day)
@validate_response(StatsOut)
async def stats(org: OrgScope) -> dict[str, Any]:
    return await service.dashboard_stats(get_db(), org=org)


@blueprint.get("/orgs/<org>/dashboard/won-over-time")
@login_required
@cache.cached_response(
    "dashboard:won-over-time", depends=("dashboard", "org"), ttl=cache.TTL_STATS, key_extra=cache.utc_day
)
@validate_response(WonOverTimeOut)
async def won_over_time(org: OrgScope) -> dict[str, Any]:
    months = parse_months(request.args.get("months"))
    return await service.won_over_time(get_db(), org=org, months=months)
