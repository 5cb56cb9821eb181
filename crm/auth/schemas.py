"""Request and response models for sign-up and sign-in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Register(Strict):
    email: EmailStr = Field(max_length=254)
    password: str = Field(min_length=8, max_length=256)
    name: str = Field(min_length=1, max_length=200)
    invitation_token: str | None = Field(default=None, min_length=1, max_length=128)

    @field_validator("email")
    @classmethod
    def lower_domain(cls, value: str) -> str:
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"


class Login(Strict):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenRequest(Strict):
    token: str = Field(min_length=1, max_length=128)


class PasswordResetRequest(Strict):
    email: str = Field(min_length=1, max_length=254)


class PasswordResetConfirm(Strict):
    token: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=8, max_length=256)


class OAuthCallback(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: str | None = Field(default=None, max_length=256)
    code: str | None = Field(default=None, max_length=2048)
    error: str | None = Field(default=None, max_length=256)


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None = None


class RevokedOut(BaseModel):
    revoked: int


class OrgSummary(BaseModel):
    id: int
    slug: str
    name: str
    role: str


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    email_verified: bool
    created_at: datetime


class MeOut(UserOut):
    two_factor_enabled: bool
    orgs: list[OrgSummary]


class UpdateProfile(Strict):
    name: str = Field(min_length=1, max_length=200)


class ChangePassword(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=8, max_length=256)
