"""Request and response models for invitations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from crm.tenancy.schemas import Role


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateInvitation(Strict):
    email: EmailStr = Field(max_length=254)
    role: Role = "member"


class AcceptInvitation(Strict):
    token: str = Field(min_length=1, max_length=128)


class InvitationOut(BaseModel):
    id: int
    email: str
    role: str
    invited_by: int | None
    created_at: datetime
    expires_at: datetime


class InvitationList(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None = None


class JoinedOrg(BaseModel):
    id: int
    slug: str
    name: str
    role: str
