"""Sign-up and sign-in rules."""

from __future__ import annotations

from databases import Database

from crm.auth import passwords, queries, sessions, tokens
from crm.config import Config
from crm.db import Row
from crm.errors import APIError
from crm.redis import RedisHub


async def register_user(db: Database, *, email: str, password: str, name: str) -> Row:
    """Create a user; a taken email is a 409 on `email`."""
    password_hash = await passwords.hash_password(password)
    user = await queries.insert_user(db, email=email, name=name, password_hash=password_hash)
    if user is None:
        raise APIError(
            409, "email_taken", "That email is already registered.", fields={"email": "is already registered"}
        )
    return user


async def authenticate(db: Database, *, email: str, password: str) -> int:
    """The user id for these credentials, or a 401 that does not say which part was wrong."""
    row = await queries.select_login(db, email=email)
    ok = await passwords.verify_password(row["password_hash"] if row else None, password)
    if row is None or not ok:
        raise APIError(401, "invalid_credentials", "Email or password is incorrect.")
    return int(row["id"])


async def start_session(
    db: Database, hub: RedisHub, config: Config, *, user_id: int, ip: str | None, user_agent: str | None
) -> tuple[sessions.Session, str]:
    """A new session and an access token for it."""
    session = await sessions.create_session(
        db, hub, user_id=user_id, ip=ip, user_agent=user_agent, lifetime=config.session_idle_ttl
    )
    token, _ = tokens.issue_access_token(
        config.secret_key, user_id=user_id, session_id=session.id, ttl=config.access_token_ttl
    )
    return session, token
