"""/api/v1/auth/2fa/… (enrolment) and /api/v1/auth/mfa (the second sign-in step)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app, request
from quart_auth import AuthUser, login_user
from quart_schema import validate_request, validate_response

from crm.auth import service as auth_service
from crm.auth.guard import login_required, require_principal
from crm.auth.schemas import TokenOut
from crm.db import get_db
from crm.http import client_ip
from crm.ratelimit import rate_limit
from crm.redis import get_redis
from crm.twofactor import service
from crm.twofactor.schemas import CodeIn, MfaIn, RecoveryCodesOut, SetupOut, StatusOut

blueprint = Blueprint("twofactor", __name__, url_prefix="/api/v1")


@blueprint.get("/auth/2fa")
@login_required
@validate_response(StatusOut)
async def two_factor_status() -> dict[str, Any]:
    principal = await require_principal()
    return await service.status(get_db(), user_id=principal.user_id)


@blueprint.post("/auth/2fa/setup")
@login_required
@rate_limit("auth")
@validate_response(SetupOut)
async def setup() -> dict[str, str]:
    principal = await require_principal()
    return await service.begin_setup(get_db(), user_id=principal.user_id)


@blueprint.post("/auth/2fa/confirm")
@login_required
@rate_limit("auth")
@validate_request(CodeIn)
@validate_response(RecoveryCodesOut)
async def confirm(data: CodeIn) -> dict[str, list[str]]:
    principal = await require_principal()
    codes = await service.confirm_setup(get_db(), user_id=principal.user_id, code=data.code)
    return {"recovery_codes": codes}


@blueprint.post("/auth/2fa/disable")
@login_required
@rate_limit("auth")
@validate_request(CodeIn)
async def disable(data: CodeIn) -> tuple[str, int]:
    principal = await require_principal()
    await service.disable(get_db(), user_id=principal.user_id, code=data.code)
    return "", 204


@blueprint.post("/auth/2fa/recovery-codes")
@login_required
@rate_limit("auth")
@validate_request(CodeIn)
@validate_response(RecoveryCodesOut)
async def regenerate_recovery_codes(data: CodeIn) -> dict[str, list[str]]:
    principal = await require_principal()
    codes = await service.regenerate_recovery_codes(get_db(), user_id=principal.user_id, code=data.code)
    return {"recovery_codes": codes}


@blueprint.post("/auth/mfa")
@rate_limit("auth")
@validate_request(MfaIn)
@validate_response(TokenOut)
async def answer_mfa(data: MfaIn) -> dict[str, Any]:
    """Finish a sign-in that answered `mfa_required`: the same tokens and cookie as /auth/login."""
    db, hub, config = get_db(), get_redis(), current_app.config["TINYCRM"]
    user_id = await service.answer_challenge(db, hub, mfa_token=data.mfa_token, code=data.code)
    signed_in = await auth_service.start_session(
        db, hub, config, user_id=user_id, ip=client_ip(), user_agent=request.headers.get("User-Agent")
    )
    login_user(AuthUser(signed_in.session.id))
    return signed_in.tokens()
