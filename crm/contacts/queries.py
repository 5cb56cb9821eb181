"""SQL for contacts."""

from __future__ import annotations

from typing import Any

from databases import Database

from crm.companies.listing import ListParams, page_sql
from crm.listpages import PageQuery, fetch_page

COLUMNS = (
    "c.id, c.first_name, c.last_name, c.email, c.phone, c.title, c.company_id, c.owner_id,"
    " c.version, c.created_at, c.updated_at"
)
RETURNING = "id, first_name, last_name, email, phone, title, company_id, owner_id, version, created_at, updated_at"
SORT_KEYS = {
    "name": ["lower(c.last_name)", "lower(c.first_name)"],
    "created_at": ["c.created_at"],
    "updated_at": ["c.updated_at"],
}
WRITABLE = ("first_name", "last_name", "email", "phone", "title", "company_id", "owner_id")


def contacts_page_sql(*, org_id: int, params: ListParams) -> PageQuery:
    """The list query (exposed so that a test can EXPLAIN it)."""
    return page_sql(table="contacts", columns=COLUMNS, org_id=org_id, params=params, sort_keys=SORT_KEYS)


async def select_contacts_page(db: Database, *, org_id: int, params: ListParams) -> list[dict[str, Any]]:
    return await fetch_page(db, contacts_page_sql(org_id=org_id, params=params))


async def select_contact(db: Database, *, org_id: int, contact_id: int) -> dict[str, Any] | None:
    row = await db.fetch_one(
        f"SELECT {COLUMNS} FROM contacts c WHERE c.org_id = :org AND c.id = :id", {"org": org_id, "id": contact_id}
    )
    return dict(row._mapping) if row else None


async def select_contact_for_update(db: Database, *, org_id: int, contact_id: int) -> dict[str, Any] | None:
    row = await db.fetch_one(
        f"SELECT {COLUMNS} FROM contacts c WHERE c.org_id = :org AND c.id = :id FOR UPDATE",
        {"org": org_id, "id": contact_id},
    )
    return dict(row._mapping) if row else None


async def insert_contact(db: Database, *, org_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    row = await db.fetch_one(
        "INSERT INTO contacts (org_id, first_name, last_name, email, phone, title, company_id, owner_id)"
        " VALUES (:org, :first_name, :last_name, :email, :phone, :title, :company_id, :owner_id)"
        f" RETURNING {RETURNING}",
        {"org": org_id, **{column: fields.get(column) for column in WRITABLE}},
    )
    assert row is not None
    return dict(row._mapping)


async def update_contact(db: Database, *, org_id: int, contact_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    sets = "".join(f"{column} = :{column}, " for column in WRITABLE if column in changes)
    row = await db.fetch_one(
        f"UPDATE contacts SET {sets}version = version + 1, updated_at = now()"
        f" WHERE org_id = :org AND id = :id RETURNING {RETURNING}",
        {"org": org_id, "id": contact_id, **{c: changes[c] for c in WRITABLE if c in changes}},
    )
    assert row is not None
    return dict(row._mapping)


async def select_deal_count_of_contact(db: Database, *, org_id: int, contact_id: int) -> int:
    count = await db.fetch_val(
        "SELECT count(*) FROM deals WHERE org_id = :org AND contact_id = :id", {"org": org_id, "id": contact_id}
    )
    return int(count or 0)


async def delete_activities_of_contact(db: Database, *, org_id: int, contact_id: int) -> list[int]:
    rows = await db.fetch_all(
        "DELETE FROM activities WHERE org_id = :org AND contact_id = :id RETURNING id",
        {"org": org_id, "id": contact_id},
    )
    return [row._mapping["id"] for row in rows]


async def delete_contact(db: Database, *, org_id: int, contact_id: int) -> None:
    await db.execute("DELETE FROM contacts WHERE org_id = :org AND id = :id", {"org": org_id, "id": contact_id})
