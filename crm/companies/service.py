"""Companies: the rules, one transaction per write, events and cache generations after commit.

Also the reference rules that contacts share: an owner must be a member of the
org and a company must belong to it (a 422 naming the field, never a 500).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from databases import Database

from crm.companies import events, queries
from crm.companies.listing import ListParams, page_of
from crm.contacts import events as contact_events
from crm.deals.common import retry_on_deadlock
from crm.errors import APIError
from crm.tenancy.scope import OrgScope
from crm.uow import write_transaction

NOT_FOUND = ("company_not_found", "No such company.")


async def check_references(db: Database, *, org: OrgScope, owner_id: Any = None, company_id: Any = None) -> None:
    """422 unless the owner is a member of the org and the company belongs to it."""
    fields: dict[str, str] = {}
    if owner_id is not None and not await queries.select_is_member(db, org_id=org.id, user_id=owner_id):
        fields["owner_id"] = "is not a member of this organisation"
    if company_id is not None and not await queries.select_company_exists(db, org_id=org.id, company_id=company_id):
        fields["company_id"] = "is not a company of this organisation"
    if fields:
        raise APIError(422, "validation_error", fields=fields)


@asynccontextmanager
async def references_checked() -> AsyncIterator[None]:
    """A reference that vanished between check and write (a concurrent delete) is still a 422."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError as error:
        constraint = error.constraint_name or ""
        field = "company_id" if "company" in constraint else "owner_id" if "owner" in constraint else "body"
        raise APIError(422, "validation_error", fields={field: "refers to a record that does not exist"}) from None


def has_deals(kind: str, count: int) -> APIError:
    noun = "deal" if count == 1 else "deals"
    return APIError(
        409,
        "has_deals",
        f"This {kind} has {count} {noun}. Reassign or delete them first.",
        deals=count,
    )


@asynccontextmanager
async def deals_block_delete(kind: str) -> AsyncIterator[None]:
    """Safety net: a deal that references the record makes the delete a 409, not a 500."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError:
        raise APIError(409, "has_deals", f"Deals reference this {kind}. Reassign or delete them first.") from None


async def list_companies(db: Database, *, org: OrgScope, params: ListParams) -> dict[str, Any]:
    """One keyset page of the org's companies."""
    rows = await queries.select_companies_page(db, org_id=org.id, params=params)
    return page_of(rows, params)


async def get_company(db: Database, *, org: OrgScope, company_id: int) -> dict[str, Any]:
    company = await queries.select_company(db, org_id=org.id, company_id=company_id)
    if company is None:
        raise APIError(404, *NOT_FOUND)
    return company


async def create_company(db: Database, *, org: OrgScope, fields: dict[str, Any]) -> dict[str, Any]:
    """Create a company; its owner must be a member of the org."""
    async with references_checked(), write_transaction(db) as tx:
        await check_references(db, org=org, owner_id=fields.get("owner_id"))
        company = await queries.insert_company(db, org_id=org.id, fields=fields)
        await tx.event(org.id, "company.created", actor=org.user_id, data=events.company_record(company))
        tx.invalidate(org.id, "companies", "dashboard", "search")
    return company


async def update_company(
    db: Database, *, org: OrgScope, company_id: int, changes: dict[str, Any], version: int
) -> dict[str, Any]:
    """Apply `changes` if `version` is current (409 `version_conflict` with the current record if not)."""
    async with references_checked(), write_transaction(db) as tx:
        current = await queries.select_company_for_update(db, org_id=org.id, company_id=company_id)
        if current is None:
            raise APIError(404, *NOT_FOUND)
        if current["version"] != version:
            raise APIError(409, "version_conflict", current=events.company_record(current))
        if not changes:
            return current
        await check_references(db, org=org, owner_id=changes.get("owner_id"))
        company = await queries.update_company(db, org_id=org.id, company_id=company_id, changes=changes)
        await tx.event(org.id, "company.updated", actor=org.user_id, data=events.company_record(company))
        tx.invalidate(org.id, "companies", "search")
    return company


@retry_on_deadlock
async def delete_company(db: Database, *, org: OrgScope, company_id: int) -> None:
    """Delete a company unless deals reference it (409 `has_deals`).

    Its contacts are detached (version bumped, contact.updated emitted); its activities go with it."""
    async with deals_block_delete("company"), write_transaction(db) as tx:
        # the row lock makes a concurrent deal insert (FK KEY SHARE lock) wait for us, or us for it
        if await queries.select_company_for_update(db, org_id=org.id, company_id=company_id) is None:
            raise APIError(404, *NOT_FOUND)
        deals = await queries.select_deal_count_of_company(db, org_id=org.id, company_id=company_id)
        if deals:
            raise has_deals("company", deals)
        detached = await queries.update_contacts_detach_company(db, org_id=org.id, company_id=company_id)
        activities = await queries.delete_activities_of_company(db, org_id=org.id, company_id=company_id)
        await queries.delete_company(db, org_id=org.id, company_id=company_id)
        for contact in detached:
            data = contact_events.contact_record(contact)
            await tx.event(org.id, "contact.updated", actor=org.user_id, data=data)
        for activity_id in activities:
            await tx.event(org.id, "activity.deleted", actor=org.user_id, data=events.activity_deleted(activity_id))
        await tx.event(org.id, "company.deleted", actor=org.user_id, data=events.company_deleted(company_id))
        tx.invalidate(org.id, "companies", "dashboard", "search")
        if detached:
            tx.invalidate(org.id, "contacts")
        if activities:
            tx.invalidate(org.id, "activities")
