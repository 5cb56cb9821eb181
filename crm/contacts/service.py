"""Contacts: the rules, one transaction per write, events and cache generations after commit."""

from __future__ import annotations

from typing import Any

from databases import Database

from crm.companies.listing import ListParams, page_of
from crm.companies.service import check_references, deals_block_delete, has_deals, references_checked
from crm.contacts import events, queries
from crm.deals.common import retry_on_deadlock
from crm.errors import APIError
from crm.tenancy.scope import OrgScope
from crm.uow import write_transaction

NOT_FOUND = ("contact_not_found", "No such contact.")


def require_a_name(contact: dict[str, Any]) -> None:
    if not contact.get("first_name") and not contact.get("last_name"):
        why = "a contact needs a first or last name"
        raise APIError(422, "validation_error", fields={"first_name": why, "last_name": why})


async def list_contacts(db: Database, *, org: OrgScope, params: ListParams) -> dict[str, Any]:
    """One keyset page of the org's contacts."""
    rows = await queries.select_contacts_page(db, org_id=org.id, params=params)
    return page_of(rows, params)


async def get_contact(db: Database, *, org: OrgScope, contact_id: int) -> dict[str, Any]:
    contact = await queries.select_contact(db, org_id=org.id, contact_id=contact_id)
    if contact is None:
        raise APIError(404, *NOT_FOUND)
    return contact


async def create_contact(db: Database, *, org: OrgScope, fields: dict[str, Any]) -> dict[str, Any]:
    """Create a contact; it needs a name, its owner must be a member and its company the org's."""
    require_a_name(fields)
    async with references_checked(), write_transaction(db) as tx:
        await check_references(db, org=org, owner_id=fields.get("owner_id"), company_id=fields.get("company_id"))
        contact = await queries.insert_contact(db, org_id=org.id, fields=fields)
        await tx.event(org.id, "contact.created", actor=org.user_id, data=events.contact_record(contact))
        tx.invalidate(org.id, "contacts", "dashboard", "search")
    return contact


async def update_contact(
    db: Database, *, org: OrgScope, contact_id: int, changes: dict[str, Any], version: int
) -> dict[str, Any]:
    """Apply `changes` if `version` is current (409 `version_conflict` with the current record if not)."""
    async with references_checked(), write_transaction(db) as tx:
        current = await queries.select_contact_for_update(db, org_id=org.id, contact_id=contact_id)
        if current is None:
            raise APIError(404, *NOT_FOUND)
        if current["version"] != version:
            raise APIError(409, "version_conflict", current=events.contact_record(current))
        if not changes:
            return current
        require_a_name({**current, **changes})
        await check_references(db, org=org, owner_id=changes.get("owner_id"), company_id=changes.get("company_id"))
        contact = await queries.update_contact(db, org_id=org.id, contact_id=contact_id, changes=changes)
        await tx.event(org.id, "contact.updated", actor=org.user_id, data=events.contact_record(contact))
        tx.invalidate(org.id, "contacts", "search")
    return contact


@retry_on_deadlock
async def delete_contact(db: Database, *, org: OrgScope, contact_id: int) -> None:
    """Delete a contact unless deals reference it (409 `has_deals`); its activities go with it."""
    async with deals_block_delete("contact"), write_transaction(db) as tx:
        # the row lock makes a concurrent deal insert (FK KEY SHARE lock) wait for us, or us for it
        if await queries.select_contact_for_update(db, org_id=org.id, contact_id=contact_id) is None:
            raise APIError(404, *NOT_FOUND)
        deals = await queries.select_deal_count_of_contact(db, org_id=org.id, contact_id=contact_id)
        if deals:
            raise has_deals("contact", deals)
        activities = await queries.delete_activities_of_contact(db, org_id=org.id, contact_id=contact_id)
        await queries.delete_contact(db, org_id=org.id, contact_id=contact_id)
        for activity_id in activities:
            await tx.event(org.id, "activity.deleted", actor=org.user_id, data=events.activity_deleted(activity_id))
        await tx.event(org.id, "contact.deleted", actor=org.user_id, data=events.contact_deleted(contact_id))
        tx.invalidate(org.id, "contacts", "dashboard", "search")
        if activities:
            tx.invalidate(org.id, "activities")
