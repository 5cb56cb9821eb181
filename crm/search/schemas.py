"""Response models for search."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class SearchHit(BaseModel):
    kind: Literal["contact", "company", "deal", "activity"]
    id: int
    title: str
    subtitle: str
    rank: float


class SearchOut(BaseModel):
    items: list[SearchHit]
    q: str
