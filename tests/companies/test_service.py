"""The database's own guards, reached when a reference vanishes between the check and the write."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from crm.companies import queries as company_queries
from crm.companies.service import deals_block_delete, references_checked
from crm.contacts import queries as contact_queries
from crm.errors import APIError
from crm.uow import write_transaction
from tests.companies.support import count_rows, create, db_of, insert_deal
from tests.helpers import User


async def test_a_missing_owner_or_company_at_write_time_is_a_422_not_a_500(
    app: Quart, alice: User, org: dict[str, Any]
) -> None:
    db = db_of(app)
    async with app.app_context():
        with pytest.raises(APIError) as owner_error:
            async with references_checked(), write_transaction(db):
                await company_queries.insert_company(db, org_id=org["id"], fields={"name": "X", "owner_id": 10**9})
        with pytest.raises(APIError) as company_error:
            async with references_checked(), write_transaction(db):
                fields = {"first_name": "Y", "last_name": "", "company_id": 10**9}
                await contact_queries.insert_contact(db, org_id=org["id"], fields=fields)
    assert (owner_error.value.status, owner_error.value.fields) == (
        422,
        {"owner_id": owner_error.value.fields["owner_id"]},
    )
    assert company_error.value.status == 422
    assert set(company_error.value.fields or {}) == {"company_id"}
    assert await count_rows(app, "companies", org["id"]) == 0
    assert await count_rows(app, "contacts", org["id"]) == 0


async def test_a_deal_that_slipped_past_the_count_still_blocks_the_delete(
    app: Quart, alice: User, org: dict[str, Any]
) -> None:
    company = await create(alice, org, "companies", name="Raced")
    await insert_deal(app, org["id"], company_id=company["id"])
    db = db_of(app)
    async with app.app_context():
        with pytest.raises(APIError) as error:
            async with deals_block_delete("company"), write_transaction(db):
                await company_queries.delete_company(db, org_id=org["id"], company_id=company["id"])
    assert (error.value.status, error.value.code) == (409, "has_deals")
    assert await count_rows(app, "companies", org["id"]) == 1
