"""Browser pages: server-rendered shells with their state embedded; ES modules take over."""

from __future__ import annotations

from functools import wraps
from typing import Any

from quart import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from crm.auth import queries as user_queries
from crm.auth.guard import current_principal
from crm.db import get_db
from crm.tenancy import queries as tenancy_queries
from crm.tenancy.scope import OrgScope

blueprint = Blueprint("web", __name__)


def page_login_required(func: Any) -> Any:
    """Signed-out visitors go to /login and come back afterwards."""

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if await current_principal() is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return await func(*args, **kwargs)

    return wrapper


async def shell_context(org: OrgScope | None = None) -> dict[str, Any]:
    """What every signed-in page shows: the user, their orgs, the current org."""
    principal = await current_principal()
    assert principal is not None
    db = get_db()
    user = await user_queries.select_user(db, user_id=principal.user_id)
    orgs = await tenancy_queries.select_orgs_of_user(db, user_id=principal.user_id)
    return {
        "user": {"id": principal.user_id, "name": user["name"] if user else "", "email": user["email"] if user else ""},
        "orgs": [{"id": o["id"], "slug": o["slug"], "name": o["name"], "role": o["role"]} for o in orgs],
        "org": {"id": org.id, "slug": org.slug, "name": org.name, "role": org.role} if org else None,
    }


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@blueprint.get("/")
async def home() -> WerkzeugResponse | str:
    principal = await current_principal()
    if principal is None:
        return redirect(url_for("web.login"))
    orgs = await tenancy_queries.select_orgs_of_user(get_db(), user_id=principal.user_id)
    if not orgs:
        return redirect(url_for("web.welcome"))
    return redirect(url_for("web.board", org=orgs[0]["slug"]))


@blueprint.get("/login")
async def login() -> str:
    config = current_app.config["TINYCRM"]
    oauth = {"name": config.oidc_name} if config.oidc_issuer and config.oidc_client_id else None
    return await render_template(
        "pages/login.html",
        next=_safe_next(request.args.get("next")),
        mfa_token=request.args.get("mfa_token", "")[:128],  # the OAuth callback's second step
        oauth=oauth,
    )


@blueprint.get("/signup")
async def signup() -> str:
    return await render_template("pages/signup.html", next=_safe_next(request.args.get("next")))


@blueprint.get("/welcome")
@page_login_required
async def welcome() -> str:
    return await render_template("pages/welcome.html", **await shell_context())


@blueprint.get("/o/<org>/board")
@page_login_required
async def board(org: OrgScope) -> str:
    from crm.deals import service as deals_service
    from crm.deals.queries import DealFilters

    seq = await current_seq(org)
    pipeline = await deals_service.pipeline(get_db(), org=org, filters=DealFilters(), per_stage=200)
    org_row = await tenancy_queries.select_org(get_db(), org_id=org.id)
    state = {
        "seq": seq,
        "pipeline": pipeline,
        "members": await org_members(org),
        "currency": org_row["currency"] if org_row else "USD",
        "can_write": org.can_write,
    }
    return await render_template("pages/board.html", page="board", state=state, **await shell_context(org))


async def current_seq(org: OrgScope) -> int:
    """The org's last event seq; read BEFORE a page's state so that replay covers every later change."""
    value = await get_db().fetch_val("SELECT event_seq FROM org_counters WHERE org_id = :org", {"org": org.id})
    return int(value or 0)


async def org_members(org: OrgScope) -> list[dict[str, Any]]:
    members = await tenancy_queries.select_members(get_db(), org_id=org.id)
    return [{"id": m["user_id"], "name": m["name"], "role": m["role"]} for m in members]
