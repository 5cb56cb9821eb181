"""Request and response models for API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from crm.auth.schemas import MeOut


class CreateApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    role: Literal["owner", "admin", "member", "viewer"] = "member"


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    created_by: int | None
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str  # shown once


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None = None


class ApiKeySummary(BaseModel):
    id: int
    name: str
    prefix: str
    role: str


class ApiKeyOrg(BaseModel):
    id: int
    slug: str
    name: str
    role: str


class ApiKeyMe(BaseModel):
    """What GET /me answers for an API key: the key itself and the one org it acts on."""

    api_key: ApiKeySummary
    org: ApiKeyOrg


class MeOrApiKey(RootModel[MeOut | ApiKeyMe]):
    """What GET /me answers: the signed-in user, or the API key making the call."""
