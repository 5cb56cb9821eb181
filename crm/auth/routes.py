"""/api/v1/auth and /api/v1/me."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, current_app, redirect, request
from quart_auth import AuthUser, login_user, logout_user
from quart_schema import validate_querystring, validate_request, validate_response
from werkzeug.wrappers import Response as WerkzeugResponse

from crm import cache
from crm.apikeys import service as apikeys
from crm.apikeys.schemas import MeOrApiKey
from crm.auth import oidc, profile, service, sessions, tokens
from crm.auth.guard import login_required, require_principal
from crm.auth.schemas import (
    ChangePassword,
    Login,
    OAuthCallback,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    Register,
    RevokedOut,
    SessionList,
    TokenOut,
    TokenRequest,
    UpdateProfile,
    UserOut,
)
from crm.db import get_db
from crm.errors import APIError
from crm.http import client_ip
from crm.redis import get_redis
from crm.twofactor import service as twofactor
from crm.twofactor.schemas import LoginOut

blueprint = Blueprint("auth", __name__, url_prefix="/api/v1")


@blueprint.post("/auth/register")
@validate_request(Register)
@validate_response(UserOut, 201)
async def register(data: Register) -> tuple[dict[str, Any], int]:
    user = await service.register_user(
        get_db(),
        get_redis(),
        email=data.email,
        password=data.password,
        name=data.name,
        invitation_token=data.invitation_token,
    )
    return profile.user_out(user), 201


@blueprint.post("/auth/login")
@validate_request(Login)
@validate_response(LoginOut)
async def login(data: Login) -> dict[str, Any]:
    db, hub, config = get_db(), get_redis(), current_app.config["TINYCRM"]
    user_id = await service.authenticate(db, email=data.email, password=data.password)
    if (challenge := await twofactor.login_challenge(db, hub, user_id=user_id)) is not None:
        return challenge  # 2FA on: finished by POST /auth/mfa
    signed_in = await service.start_session(
        db, hub, config, user_id=user_id, ip=client_ip(), user_agent=request.headers.get("User-Agent")
    )
    login_user(AuthUser(signed_in.session.id))
    return signed_in.tokens()


@blueprint.post("/auth/refresh")
@validate_request(RefreshRequest)
@validate_response(TokenOut)
async def refresh(data: RefreshRequest) -> dict[str, Any]:
    signed_in = await service.refresh_session(
        get_db(), get_redis(), current_app.config["TINYCRM"], refresh_token=data.refresh_token
    )
    return signed_in.tokens()


@blueprint.post("/auth/logout")
@login_required
async def logout() -> tuple[str, int]:
    principal = await require_principal()
    db, hub = get_db(), get_redis()
    await sessions.revoke_sessions(db, hub, user_id=principal.user_id, session_ids=[principal.session_id])
    if principal.claims is not None:
        await tokens.blacklist(hub, principal.claims)
    logout_user()
    return "", 204


@blueprint.get("/auth/sessions")
@login_required
@validate_response(SessionList)
async def list_sessions() -> dict[str, Any]:
    principal = await require_principal()
    rows = await sessions.list_sessions(get_db(), user_id=principal.user_id)
    items = [{**row, "current": row["id"] == principal.session_id} for row in rows]
    return {"items": items, "next_cursor": None}


@blueprint.delete("/auth/sessions/<session_id>")
@login_required
async def revoke_session(session_id: str) -> tuple[str, int]:
    principal = await require_principal()
    revoked = await sessions.revoke_sessions(
        get_db(), get_redis(), user_id=principal.user_id, session_ids=[session_id[:64]]
    )
    if not revoked:  # unknown, already ended, or someone else's: all look the same
        raise APIError(404, "session_not_found", "No such session.")
    if session_id == principal.session_id:
        logout_user()
    return "", 204


@blueprint.post("/auth/sessions/revoke-others")
@login_required
@validate_response(RevokedOut)
async def revoke_other_sessions() -> dict[str, int]:
    principal = await require_principal()
    revoked = await sessions.revoke_all_sessions(
        get_db(), get_redis(), user_id=principal.user_id, except_id=principal.session_id
    )
    return {"revoked": len(revoked)}


@blueprint.post("/auth/verify-email")
@validate_request(TokenRequest)
@validate_response(UserOut)
async def verify_email(data: TokenRequest) -> dict[str, Any]:
    user = await service.verify_email(get_db(), get_redis(), token=data.token)
    return profile.user_out(user)


@blueprint.post("/auth/verify-email/resend")
@login_required
async def resend_verification() -> tuple[str, int]:
    principal = await require_principal()
    await service.resend_verification(get_db(), get_redis(), user_id=principal.user_id)
    return "", 202


@blueprint.post("/auth/password-reset")
@validate_request(PasswordResetRequest)
async def password_reset(data: PasswordResetRequest) -> tuple[dict[str, str], int]:
    await service.request_password_reset(email=data.email)
    return {"status": "accepted"}, 202


@blueprint.post("/auth/password-reset/confirm")
@validate_request(PasswordResetConfirm)
async def password_reset_confirm(data: PasswordResetConfirm) -> tuple[str, int]:
    await service.confirm_password_reset(get_db(), get_redis(), token=data.token, password=data.password)
    logout_user()
    return "", 204


@blueprint.get("/auth/oauth/<provider>/start")
async def oauth_start(provider: str) -> WerkzeugResponse:
    config = current_app.config["TINYCRM"]
    url = await oidc.start(get_redis(), config, oidc.configured(config, provider))
    return redirect(url, 302)


@blueprint.get("/auth/oauth/<provider>/callback")
@validate_querystring(OAuthCallback)
async def oauth_callback(provider: str, query_args: OAuthCallback) -> WerkzeugResponse:
    db, hub, config = get_db(), get_redis(), current_app.config["TINYCRM"]
    user_id = await oidc.finish(
        db,
        hub,
        config,
        oidc.configured(config, provider),
        state=query_args.state,
        code=query_args.code,
        error=query_args.error,
    )
    if (challenge := await twofactor.login_challenge(db, hub, user_id=user_id)) is not None:
        # the provider vouched for the first factor only; the sign-in page asks for the code
        return redirect(f"{config.base_url}/login?{urlencode({'mfa_token': challenge['mfa_token']})}", 302)
    signed_in = await service.start_session(
        db, hub, config, user_id=user_id, ip=client_ip(), user_agent=request.headers.get("User-Agent")
    )
    login_user(AuthUser(signed_in.session.id))
    return redirect(f"{config.base_url}/", 302)


@blueprint.get("/me")
@login_required
@cache.composed_response
@validate_response(MeOrApiKey)
async def me() -> dict[str, Any]:
    principal = await require_principal()
    if principal.api_key is not None:
        return await apikeys.api_key_identity(get_db(), principal.api_key)
    return await profile.me(get_db(), user_id=principal.user_id)


@blueprint.patch("/me")
@login_required
@validate_request(UpdateProfile)
@validate_response(MeOrApiKey)
async def update_me(data: UpdateProfile) -> dict[str, Any]:
    principal = await require_principal()
    if principal.api_key is not None:
        raise APIError(403, "api_key_not_allowed", "API keys cannot change a profile.")
    db = get_db()
    await service.update_profile(db, user_id=principal.user_id, name=data.name)
    return await profile.me(db, user_id=principal.user_id)  # committed and bumped: a fresh read


@blueprint.post("/auth/password")
@login_required
@validate_request(ChangePassword)
async def change_password(data: ChangePassword) -> dict[str, int]:
    principal = await require_principal()
    if principal.api_key is not None:
        raise APIError(403, "api_key_not_allowed", "API keys cannot change a password.")
    revoked = await service.change_password(
        get_db(),
        get_redis(),
        user_id=principal.user_id,
        session_id=principal.session_id,
        current_password=data.current_password,
        password=data.password,
    )
    return {"signed_out_sessions": revoked}
