"""SQL for companies (and the reference checks that contacts share)."""

from __future__ import annotations

from typing import Any

from databases import Database

from crm.companies.listing import ListParams, page_sql
from crm.db import Row
from crm.listpages import PageQuery, fetch_page

COLUMNS = "c.id, c.name, c.domain, c.phone, c.address, c.owner_id, c.version, c.created_at, c.updated_at"
RETURNING = "id, name, domain, phone, address, owner_id, version, created_at, updated_at"
SORT_KEYS = {"name": ["lower(c.name)"], "created_at": ["c.created_at"], "updated_at": ["c.updated_at"]}
WRITABLE = ("name", "domain", "phone", "address", "owner_id")


def companies_page_sql(*, org_id: int, params: ListParams) -> PageQuery:
    """The list query (exposed so that a test can EXPLAIN it)."""
    return page_sql(table="companies", columns=COLUMNS, org_id=org_id, params=params, sort_keys=SORT_KEYS)


async def select_companies_page(db: Database, *, org_id: int, params: ListParams) -> list[dict[str, Any]]:
    return await fetch_page(db, companies_page_sql(org_id=org_id, params=params))


async def select_company(db: Database, *, org_id: int, company_id: int) -> dict[str, Any] | None:
    row = await db.fetch_one(
        f"SELECT {COLUMNS} FROM companies c WHERE c.org_id = :org AND c.id = :id", {"org": org_id, "id": company_id}
    )
    return dict(row._mapping) if row else None


async def select_company_for_update(db: Database, *, org_id: int, company_id: int) -> dict[str, Any] | None:
    row = await db.fetch_one(
        f"SELECT {COLUMNS} FROM companies c WHERE c.org_id = :org AND c.id = :id FOR UPDATE",
        {"org": org_id, "id": company_id},
    )
    return dict(row._mapping) if row else None


async def select_company_exists(db: Database, *, org_id: int, company_id: int) -> bool:
    found = await db.fetch_val(
        "SELECT 1 FROM companies WHERE org_id = :org AND id = :id", {"org": org_id, "id": company_id}
    )
    return found is not None


async def select_is_member(db: Database, *, org_id: int, user_id: int) -> bool:
    found = await db.fetch_val(
        "SELECT 1 FROM memberships WHERE org_id = :org AND user_id = :user", {"org": org_id, "user": user_id}
    )
    return found is not None


async def insert_company(db: Database, *, org_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    row = await db.fetch_one(
        "INSERT INTO companies (org_id, name, domain, phone, address, owner_id)"
        f" VALUES (:org, :name, :domain, :phone, :address, :owner_id) RETURNING {RETURNING}",
        {"org": org_id, **{column: fields.get(column) for column in WRITABLE}},
    )
    assert row is not None
    return dict(row._mapping)


async def update_company(db: Database, *, org_id: int, company_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    sets = "".join(f"{column} = :{column}, " for column in WRITABLE if column in changes)
    row = await db.fetch_one(
        f"UPDATE companies SET {sets}version = version + 1, updated_at = now()"
        f" WHERE org_id = :org AND id = :id RETURNING {RETURNING}",
        {"org": org_id, "id": company_id, **{c: changes[c] for c in WRITABLE if c in changes}},
    )
    assert row is not None
    return dict(row._mapping)


async def select_deal_count_of_company(db: Database, *, org_id: int, company_id: int) -> int:
    count = await db.fetch_val(
        "SELECT count(*) FROM deals WHERE org_id = :org AND company_id = :id", {"org": org_id, "id": company_id}
    )
    return int(count or 0)


async def update_contacts_detach_company(db: Database, *, org_id: int, company_id: int) -> list[Row]:
    """Detach the company's contacts (bumping their version so clients see the change)."""
    rows = await db.fetch_all(
        "UPDATE contacts SET company_id = NULL, version = version + 1, updated_at = now()"
        " WHERE org_id = :org AND company_id = :id"
        " RETURNING id, first_name, last_name, email, phone, title, company_id, owner_id,"
        " version, created_at, updated_at",
        {"org": org_id, "id": company_id},
    )
    return [dict(row._mapping) for row in rows]


async def delete_activities_of_company(db: Database, *, org_id: int, company_id: int) -> list[int]:
    rows = await db.fetch_all(
        "DELETE FROM activities WHERE org_id = :org AND company_id = :id RETURNING id",
        {"org": org_id, "id": company_id},
    )
    return [row._mapping["id"] for row in rows]


async def delete_company(db: Database, *, org_id: int, company_id: int) -> None:
    await db.execute("DELETE FROM companies WHERE org_id = :org AND id = :id", {"org": org_id, "id": company_id})
