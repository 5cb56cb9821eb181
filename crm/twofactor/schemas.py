"""Request and response models for 2FA and the second login step."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from crm.auth.schemas import TokenOut


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CodeIn(Strict):
    code: str = Field(min_length=1, max_length=64)


class MfaIn(Strict):
    mfa_token: str = Field(min_length=1, max_length=128)
    code: str = Field(min_length=1, max_length=64)


class SetupOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_code: str  # data:image/svg+xml;base64,…


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class StatusOut(BaseModel):
    enabled: bool
    pending: bool
    recovery_codes_left: int


class MfaChallenge(BaseModel):
    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int


class LoginOut(RootModel[TokenOut | MfaChallenge]):
    """What POST /auth/login answers: tokens, or the challenge when 2FA is on."""
