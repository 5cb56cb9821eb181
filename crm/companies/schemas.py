"""Request and response models for companies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Ids arrive as JSON integers: strict mode refuses "12", 12.0 and true.
RecordId = Annotated[int, Field(gt=0, lt=2**63)]
Version = Annotated[int, Field(gt=0, lt=2**31)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class CompanyCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    phone: str | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=1000)
    owner_id: RecordId | None = None

    @field_validator("domain")
    @classmethod
    def lower_domain(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @field_validator("phone", "address")
    @classmethod
    def empty_to_none(cls, value: str | None) -> str | None:
        return value or None


class CompanyUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    phone: str | None = Field(default=None, max_length=50)
    address: str | None = Field(default=None, max_length=1000)
    owner_id: RecordId | None = None
    version: Version | None = None

    @field_validator("name")
    @classmethod
    def name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("may not be null")
        return value

    @field_validator("domain")
    @classmethod
    def lower_domain(cls, value: str | None) -> str | None:
        return value.lower() if value else None

    @field_validator("phone", "address")
    @classmethod
    def empty_to_none(cls, value: str | None) -> str | None:
        return value or None


class CompanyOut(BaseModel):
    id: int
    name: str
    domain: str | None
    phone: str | None
    address: str | None
    owner_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class CompanyPage(BaseModel):
    items: list[CompanyOut]
    next_cursor: str | None
