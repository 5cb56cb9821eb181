"""Request and response models for activities (calls, emails, meetings, notes, tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from crm.deals.schemas import Text

ActivityType = Literal["call", "email", "meeting", "note", "task"]
ACTIVITY_TYPES = ("call", "email", "meeting", "note", "task")
Id = Annotated[StrictInt, Field(gt=0, lt=2**63)]
Version = Annotated[StrictInt, Field(ge=1, lt=2**31)]
Subject = Annotated[Text, Field(min_length=1, max_length=200)]
Body = Annotated[Text, Field(max_length=20_000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CreateActivity(Strict):
    type: ActivityType
    subject: Subject
    body: Body = ""
    due_at: AwareDatetime | None = None
    done: StrictBool = False
    deal_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    owner_id: Id | None = None


class UpdateActivity(Strict):
    """Only the fields sent change; `null` clears the optional ones."""

    type: ActivityType | None = None
    subject: Subject | None = None
    body: Body | None = None
    due_at: AwareDatetime | None = None
    done: StrictBool | None = None
    deal_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    owner_id: Id | None = None
    version: Version | None = None

    @field_validator("type", "subject", "body", "done", mode="before")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value


class ActivityOut(BaseModel):
    id: int
    type: str
    subject: str
    body: str
    due_at: datetime | None
    done: bool
    done_at: datetime | None
    deal_id: int | None
    contact_id: int | None
    company_id: int | None
    owner_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class ActivityList(BaseModel):
    items: list[ActivityOut]
    next_cursor: str | None = None
