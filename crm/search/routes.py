"""/api/v1/orgs/<org>/search: one box across contacts, companies, deals and activities."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from crm import cache
from crm.auth.guard import login_required
from crm.db import get_db
from crm.http import documented_response, parse_limit
from crm.ratelimit import rate_limit
from crm.search import service
from crm.search.schemas import SearchOut
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("search", __name__, url_prefix="/api/v1")

DEFAULT_LIMIT = 20


@blueprint.get("/orgs/<org>/search")
@login_required
@rate_limit("search")
@cache.cached_response("search", depends=("search", "stages"), ttl=cache.TTL_LIST)
@documented_response(SearchOut)
async def search(org: OrgScope) -> dict[str, Any]:
    raw_limit = request.args.get("limit")
    limit = parse_limit(raw_limit) if raw_limit else DEFAULT_LIMIT
    return await service.search(get_db(), org=org, q=request.args.get("q", ""), limit=limit)
