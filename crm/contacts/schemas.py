"""Request and response models for contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, EmailStr, Field, field_validator

from crm.companies.schemas import RecordId, Strict, Version


class ContactFields(Strict):
    first_name: str | None = Field(default="", max_length=100)
    last_name: str | None = Field(default="", max_length=100)
    email: EmailStr | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    title: str | None = Field(default=None, max_length=200)
    company_id: RecordId | None = None
    owner_id: RecordId | None = None

    @field_validator("email", mode="before")
    @classmethod
    def blank_email_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("first_name", "last_name")
    @classmethod
    def names_are_never_null(cls, value: str | None) -> str:
        # the columns are NOT NULL DEFAULT '': an absent name is the empty string
        return value or ""

    @field_validator("phone", "title")
    @classmethod
    def empty_to_none(cls, value: str | None) -> str | None:
        return value or None


class ContactCreate(ContactFields):
    pass


class ContactUpdate(ContactFields):
    version: Version | None = None


class ContactOut(BaseModel):
    id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    title: str | None
    company_id: int | None
    owner_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None
