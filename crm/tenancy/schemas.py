"""Request and response models for orgs and members."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

Role = Literal["owner", "admin", "member", "viewer"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateOrg(Strict):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class UpdateOrg(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    require_2fa: bool | None = None
    version: int | None = None


class OrgOut(BaseModel):
    id: int
    slug: str
    name: str
    role: str
    currency: str
    require_2fa: bool
    created_at: datetime
    updated_at: datetime
    version: int


class AddMember(Strict):
    email: EmailStr
    role: Role = "member"


class ChangeMember(Strict):
    role: Role


class MemberOut(BaseModel):
    user_id: int
    name: str
    email: str
    role: str
    joined_at: datetime


class MemberList(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None = None
