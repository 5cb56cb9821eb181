"""/api/v1/auth and /api/v1/me."""

from __future__ import annotations

from quart import Blueprint, current_app, request
from quart_auth import AuthUser, login_user, logout_user
from quart_schema import validate_request, validate_response

from crm.auth import queries, service, sessions, tokens
from crm.auth.guard import login_required, require_principal
from crm.auth.schemas import Login, MeOut, Register, TokenOut, UserOut
from crm.db import get_db
from crm.http import client_ip
from crm.redis import get_redis
from crm.tenancy import queries as tenancy_queries

blueprint = Blueprint("auth", __name__, url_prefix="/api/v1")


def user_out(user: dict) -> dict:  # type: ignore[type-arg]
    return {
        "id": user["id"],
        "email": user["email"],
        "name": user["name"],
        "email_verified": user["email_verified_at"] is not None,
        "created_at": user["created_at"],
    }


@blueprint.post("/auth/register")
@validate_request(Register)
@validate_response(UserOut, 201)
async def register(data: Register) -> tuple[dict, int]:  # type: ignore[type-arg]
    user = await service.register_user(get_db(), email=data.email, password=data.password, name=data.name)
    return user_out(dict(user)), 201


@blueprint.post("/auth/login")
@validate_request(Login)
@validate_response(TokenOut)
async def login(data: Login) -> TokenOut:
    db, hub, config = get_db(), get_redis(), current_app.config["TINYCRM"]
    user_id = await service.authenticate(db, email=data.email, password=data.password)
    session, access_token = await service.start_session(
        db, hub, config, user_id=user_id, ip=client_ip(), user_agent=request.headers.get("User-Agent")
    )
    login_user(AuthUser(session.id))
    return TokenOut(access_token=access_token, expires_in=config.access_token_ttl)


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


@blueprint.get("/me")
@login_required
@validate_response(MeOut)
async def me() -> dict:  # type: ignore[type-arg]
    principal = await require_principal()
    db = get_db()
    user = await queries.select_user(db, user_id=principal.user_id)
    orgs = await tenancy_queries.select_orgs_of_user(db, user_id=principal.user_id)
    return {**user_out(dict(user or {})), "orgs": [dict(org) for org in orgs]}
