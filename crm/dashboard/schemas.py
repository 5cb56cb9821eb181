"""Response models for the dashboard."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class PipelineStageOut(BaseModel):
    stage_id: int
    name: str
    kind: str
    count: int
    value: int


class StatsOut(BaseModel):
    contacts: int
    companies: int
    open_deals: int
    open_value: int
    pipeline: list[PipelineStageOut]
    won_this_month: int
    won_value_this_month: int
    lost_this_month: int
    lost_value_this_month: int
    win_rate: float | None
    activities_due_today: int
    activities_overdue: int
    closing_this_month: int
    closing_value_this_month: int
    currency: str
    as_of: datetime
    month_start: date


class WonMonthOut(BaseModel):
    month: date
    count: int
    value: int


class WonOverTimeOut(BaseModel):
    items: list[WonMonthOut]
    currency: str
    as_of: datetime
