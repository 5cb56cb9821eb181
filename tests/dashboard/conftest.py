"""Fixtures for dashboard tests: direct database access and the org's scope."""

from __future__ import annotations

from typing import Any

import pytest
from databases import Database
from quart import Quart

from crm.tenancy.scope import OrgScope
from tests.helpers import User


@pytest.fixture
def db(app: Quart) -> Database:
    database: Database = app.extensions["db"]
    return database


@pytest.fixture
def scope(org: dict[str, Any], alice: User) -> OrgScope:
    return OrgScope(id=org["id"], slug=org["slug"], name=org["name"], role="owner", user_id=alice.id)
