"""Record pages: each renders its state on the server (read after the org's seq); ES modules take over.

No SQL here: the pages call the same services as the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, render_template, request

from crm.activities import service as activities_service
from crm.activities.queries import ActivityFilters
from crm.companies import service as companies_service
from crm.companies.listing import parse_list_args
from crm.contacts import service as contacts_service
from crm.dashboard import service as dashboard_service
from crm.db import get_db
from crm.deals import service as deals_service
from crm.deals import stages as stages_service
from crm.deals.common import parse_choice, prefix_tsquery
from crm.deals.queries import SORTS as DEAL_SORTS
from crm.deals.queries import STATUS_SQL, DealFilters
from crm.errors import APIError
from crm.http import parse_int_param, parse_limit
from crm.tenancy import queries as tenancy_queries
from crm.tenancy.scope import OrgScope
from crm.web.pages import current_seq, org_members, page_login_required, shell_context

blueprint = Blueprint("records", __name__)

PAGE_SIZE = 50
OPTIONS_LIMIT = 200  # contacts/companies offered in a record's pickers
TIMELINE_LIMIT = 200
LIST_KINDS = ("contacts", "companies", "deals")


async def _currency(org: OrgScope) -> str:
    row = await tenancy_queries.select_org(get_db(), org_id=org.id)
    return str(row["currency"]).strip() if row else "USD"


async def _company_options(org: OrgScope) -> list[dict[str, Any]]:
    params = parse_list_args({"limit": str(OPTIONS_LIMIT)}, name_keys=1)
    page = await companies_service.list_companies(get_db(), org=org, params=params)
    return [{"id": c["id"], "name": c["name"]} for c in page["items"]]


async def _contact_options(org: OrgScope) -> list[dict[str, Any]]:
    params = parse_list_args({"limit": str(OPTIONS_LIMIT)}, name_keys=2)
    page = await contacts_service.list_contacts(get_db(), org=org, params=params)
    return [{"id": c["id"], "name": _person(c)} for c in page["items"]]


def _person(contact: Mapping[str, Any]) -> str:
    return f"{contact['first_name']} {contact['last_name']}".strip() or contact.get("email") or f"#{contact['id']}"


async def _activities(org: OrgScope, **filters: Any) -> list[dict[str, Any]]:
    page = await activities_service.list_activities(
        get_db(), org=org, filters=ActivityFilters(**filters), sort="-created_at", cursor=None, limit=TIMELINE_LIMIT
    )
    return list(page["items"])


async def _deals_of(org: OrgScope, **filters: Any) -> list[dict[str, Any]]:
    page = await deals_service.list_deals(
        get_db(), org=org, filters=DealFilters(**filters), sort="-updated_at", cursor=None, limit=TIMELINE_LIMIT
    )
    return list(page["items"])


async def _with_current(options: list[dict[str, Any]], record_id: int | None, load: Any) -> list[dict[str, Any]]:
    """The picker options, plus the record's current choice when it is not among the first ones."""
    if record_id is None or any(o["id"] == record_id for o in options):
        return options
    try:
        return [*options, await load(record_id)]
    except APIError:
        return options


async def _common(org: OrgScope) -> dict[str, Any]:
    """State every record page shares; seq first, so that replay covers everything read after it."""
    seq = await current_seq(org)
    return {
        "seq": seq,
        "members": await org_members(org),
        "stages": await stages_service.list_stages(get_db(), org=org),
        "currency": await _currency(org),
        "can_write": org.can_write,
    }


@blueprint.get("/o/<org>/deals/<id:deal_id>")
@page_login_required
async def deal_page(org: OrgScope, deal_id: int) -> str:
    db = get_db()
    state = await _common(org)
    deal = await deals_service.get_deal(db, org=org, deal_id=deal_id)

    async def contact_option(contact_id: int) -> dict[str, Any]:
        return {
            "id": contact_id,
            "name": _person(await contacts_service.get_contact(db, org=org, contact_id=contact_id)),
        }

    async def company_option(company_id: int) -> dict[str, Any]:
        company = await companies_service.get_company(db, org=org, company_id=company_id)
        return {"id": company_id, "name": company["name"]}

    state.update(
        deal=deal,
        contacts=await _with_current(await _contact_options(org), deal["contact_id"], contact_option),
        companies=await _with_current(await _company_options(org), deal["company_id"], company_option),
        activities=await _activities(org, deal_id=deal_id),
    )
    return await render_template("pages/deal.html", page="deals", state=state, **await shell_context(org))


@blueprint.get("/o/<org>/contacts/<id:contact_id>")
@page_login_required
async def contact_page(org: OrgScope, contact_id: int) -> str:
    state = await _common(org)
    contact = await contacts_service.get_contact(get_db(), org=org, contact_id=contact_id)

    async def company_option(company_id: int) -> dict[str, Any]:
        company = await companies_service.get_company(get_db(), org=org, company_id=company_id)
        return {"id": company_id, "name": company["name"]}

    state.update(
        kind="contact",
        record=contact,
        title=_person(contact),
        companies=await _with_current(await _company_options(org), contact["company_id"], company_option),
        deals=await _deals_of(org, contact_id=contact_id),
        activities=await _activities(org, contact_id=contact_id),
    )
    return await render_template("pages/record.html", page="contacts", state=state, **await shell_context(org))


@blueprint.get("/o/<org>/companies/<id:company_id>")
@page_login_required
async def company_page(org: OrgScope, company_id: int) -> str:
    state = await _common(org)
    company = await companies_service.get_company(get_db(), org=org, company_id=company_id)
    params = parse_list_args(
        {"limit": str(TIMELINE_LIMIT), "company": str(company_id)}, name_keys=2, filters=("company",)
    )
    people = await contacts_service.list_contacts(get_db(), org=org, params=params)
    state.update(
        kind="company",
        record=company,
        title=company["name"],
        people=list(people["items"]),
        deals=await _deals_of(org, company_id=company_id),
        activities=await _activities(org, company_id=company_id),
    )
    return await render_template("pages/record.html", page="companies", state=state, **await shell_context(org))


def _list_query(kind: str, args: Mapping[str, str]) -> dict[str, str]:
    """The list filters the page was opened with; what the API would refuse is dropped."""
    allowed = {
        "contacts": ("q", "sort", "owner", "company"),
        "companies": ("q", "sort", "owner"),
        "deals": ("q", "sort", "owner", "stage", "status"),
    }[kind]
    return {key: args[key] for key in allowed if args.get(key)}


async def _first_page(org: OrgScope, kind: str, query: dict[str, str]) -> dict[str, Any]:
    db = get_db()
    args = {**query, "limit": str(PAGE_SIZE)}
    if kind == "contacts":
        params = parse_list_args(args, name_keys=2, filters=("owner", "company"))
        return await contacts_service.list_contacts(db, org=org, params=params)
    if kind == "companies":
        return await companies_service.list_companies(db, org=org, params=parse_list_args(args, name_keys=1))
    sort = args.get("sort") or "-updated_at"
    if sort not in DEAL_SORTS:
        raise APIError(422, "validation_error", fields={"sort": "unknown sort"})
    filters = DealFilters(
        stage_id=parse_int_param("stage", args.get("stage")),
        owner_id=parse_int_param("owner", args.get("owner")),
        status=parse_choice("status", args.get("status"), tuple(STATUS_SQL)),
        tsquery=prefix_tsquery(args.get("q")),
    )
    return await deals_service.list_deals(
        db, org=org, filters=filters, sort=sort, cursor=None, limit=parse_limit(args["limit"])
    )


async def _list_page(org: OrgScope, kind: str) -> str:
    state = await _common(org)
    query = _list_query(kind, request.args)
    try:
        first = await _first_page(org, kind, query)
    except APIError:  # a hand-edited URL with a bad filter: show the unfiltered list
        query = {}
        first = await _first_page(org, kind, query)
    state.update(kind=kind, query=query, items=first["items"], next_cursor=first["next_cursor"])
    if kind in ("contacts", "deals"):
        state["companies"] = await _company_options(org)
    if kind == "deals":
        state["contacts"] = await _contact_options(org)
    return await render_template("pages/list.html", page=kind, state=state, **await shell_context(org))


@blueprint.get("/o/<org>/contacts")
@page_login_required
async def contacts_list(org: OrgScope) -> str:
    return await _list_page(org, "contacts")


@blueprint.get("/o/<org>/companies")
@page_login_required
async def companies_list(org: OrgScope) -> str:
    return await _list_page(org, "companies")


@blueprint.get("/o/<org>/deals")
@page_login_required
async def deals_list(org: OrgScope) -> str:
    return await _list_page(org, "deals")


@blueprint.get("/o/<org>/dashboard")
@page_login_required
async def dashboard(org: OrgScope) -> str:
    db = get_db()
    seq = await current_seq(org)
    state = {
        "seq": seq,
        "stats": await dashboard_service.dashboard_stats(db, org=org),
        "won_over_time": await dashboard_service.won_over_time(db, org=org, months=12),
    }
    return await render_template("pages/dashboard.html", page="dashboard", state=state, **await shell_context(org))
