"""Request and response models for stages, deals, the move and the pipeline board."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

MAX_AMOUNT = 10**15 - 1


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it here (422) instead of failing at INSERT (500)."""
    if "\x00" in value:
        raise ValueError("may not contain NUL characters")
    return value


Text = Annotated[StrictStr, AfterValidator(no_nul)]
StageKind = Literal["open", "won", "lost"]
Id = Annotated[StrictInt, Field(gt=0, lt=2**63)]
Version = Annotated[StrictInt, Field(ge=1, lt=2**31)]
Title = Annotated[Text, Field(min_length=1, max_length=200)]
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
Currency = Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")]
Probability = Annotated[StrictInt, Field(ge=0, le=100)]
StageName = Annotated[Text, Field(min_length=1, max_length=100)]
StagePosition = Annotated[StrictInt, Field(ge=0, lt=10_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


class CreateStage(Strict):
    name: StageName
    kind: StageKind = "open"
    position: StagePosition | None = None


class UpdateStage(Strict):
    name: StageName | None = None
    kind: StageKind | None = None
    position: StagePosition | None = None
    version: Version | None = None

    _no_nulls = field_validator("name", "kind", "position", mode="before")(_not_null)


class StageOut(BaseModel):
    id: int
    name: str
    position: int
    kind: str
    count: int = 0
    value: int = 0
    version: int
    created_at: datetime
    updated_at: datetime


class StageList(BaseModel):
    items: list[StageOut]
    next_cursor: str | None = None


class CreateDeal(Strict):
    title: Title
    amount: Amount = 0
    currency: Currency | None = None
    stage_id: Id | None = Field(default=None, validation_alias=AliasChoices("stage_id", "stage"))
    owner_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    expected_close_date: date | None = None
    probability: Probability | None = None


class UpdateDeal(Strict):
    """Only the fields sent change; `null` clears the optional ones."""

    title: Title | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    stage_id: Id | None = Field(default=None, validation_alias=AliasChoices("stage_id", "stage"))
    owner_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    expected_close_date: date | None = None
    probability: Probability | None = None
    version: Version | None = None

    _no_nulls = field_validator("title", "amount", "currency", "stage_id", mode="before")(_not_null)


class MoveDeal(Strict):
    """before_id: the card that ends up right above the moved one; after_id: right below."""

    stage_id: Id = Field(validation_alias=AliasChoices("stage_id", "stage"))
    before_id: Id | None = Field(default=None, validation_alias=AliasChoices("before_id", "before"))
    after_id: Id | None = Field(default=None, validation_alias=AliasChoices("after_id", "after"))
    version: Version | None = None


class DealOut(BaseModel):
    id: int
    title: str
    amount: int
    currency: str
    stage_id: int
    position: str
    owner_id: int | None
    contact_id: int | None
    company_id: int | None
    expected_close_date: date | None
    probability: int | None
    won_at: datetime | None
    lost_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class DealList(BaseModel):
    items: list[DealOut]
    next_cursor: str | None = None


class PipelineStage(StageOut):
    deals: list[DealOut]
    has_more: bool


class Pipeline(BaseModel):
    stages: list[PipelineStage]
