"""Sign-up, sign-in, token refresh, email verification and password reset rules."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

from databases import Database
from quart import current_app

from crm.auth import onetime, passwords, queries, refresh, sessions, tokens
from crm.config import Config
from crm.db import Row
from crm.errors import APIError
from crm.invitations import service as invitations
from crm.mail import mailer
from crm.redis import RedisHub
from crm.uow import write_transaction

log = logging.getLogger(__name__)
VERIFY_PURPOSE = "verify"
RESET_PURPOSE = "reset"


@dataclass(frozen=True)
class SignIn:
    """A started session and the API tokens for it."""

    session: sessions.Session
    access_token: str
    refresh_token: str
    expires_in: int

    def tokens(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }


def _email_taken() -> APIError:
    return APIError(409, "email_taken", "That email is already registered.", fields={"email": "is already registered"})


async def register_user(
    db: Database, hub: RedisHub, *, email: str, password: str, name: str, invitation_token: str | None = None
) -> Row:
    """Create a user; a taken email is a 409 on `email`. With an invitation token the user joins
    that org in the same transaction (a bad token creates nobody); otherwise a verification
    mail goes out."""
    password_hash = await passwords.hash_password(password)
    async with write_transaction(db) as tx:
        user = await queries.insert_user(db, email=email, name=name, password_hash=password_hash)
        if user is None:
            raise _email_taken()
        if invitation_token is not None:
            await invitations.accept_in_transaction(tx, token=invitation_token, user_id=user["id"], email=email)
            user = await queries.update_email_verified(db, user_id=user["id"], email=email)
            assert user is not None
        tx.invalidate_user(user["id"], "me")
    if user["email_verified_at"] is None:
        try:
            await send_verification(hub, user=user)
        except APIError as error:  # the account exists; the user can ask for the mail again
            log.warning("no verification mail for user %s: %s", user["id"], error.code)
    return user


async def authenticate(db: Database, *, email: str, password: str) -> int:
    """The user id for these credentials, or a 401 that does not say which part was wrong."""
    row = await queries.select_login(db, email=email)
    ok = await passwords.verify_password(row["password_hash"] if row else None, password)
    if row is None or not ok:
        raise APIError(401, "invalid_credentials", "Email or password is incorrect.")
    return int(row["id"])


def _access_token(config: Config, session: sessions.Session) -> str:
    token, _ = tokens.issue_access_token(
        config.secret_key, user_id=session.user_id, session_id=session.id, ttl=config.access_token_ttl
    )
    return token


async def start_session(
    db: Database, hub: RedisHub, config: Config, *, user_id: int, ip: str | None, user_agent: str | None
) -> SignIn:
    """A new session with an access token and a refresh token for it."""
    session = await sessions.create_session(
        db,
        hub,
        user_id=user_id,
        ip=ip,
        user_agent=user_agent,
        idle_ttl=config.session_idle_ttl,
        lifetime=config.session_lifetime,
    )
    refresh_token = await refresh.issue(db, hub, session=session)
    return SignIn(session, _access_token(config, session), refresh_token, config.access_token_ttl)


async def refresh_session(db: Database, hub: RedisHub, config: Config, *, refresh_token: str) -> SignIn:
    """Rotate: the refresh token is used up and a new pair is issued for the same session."""
    _, session = await refresh.claim(db, hub, token=refresh_token)
    new_refresh = await refresh.issue(db, hub, session=session)
    return SignIn(session, _access_token(config, session), new_refresh, config.access_token_ttl)


def _link(path: str, token: str) -> str:
    return f"{current_app.config['TINYCRM'].base_url}{path}?token={quote(token)}"


async def send_verification(hub: RedisHub, *, user: Row) -> None:
    """Mail a 24-hour, single-use link that verifies the user's current address."""
    token = await onetime.issue(
        hub,
        VERIFY_PURPOSE,
        {"user_id": user["id"], "email": user["email"]},
        ttl=onetime.EMAIL_VERIFICATION_TTL,
    )
    await mailer.send(
        mailer.Message(
            to=user["email"],
            subject="Confirm your email address for TinyCRM",
            text=(
                f"Hello {user['name']},\n\nconfirm your email address by opening this link:\n"
                f"{_link('/verify-email', token)}\n\nThe link works once, for 24 hours."
            ),
        )
    )


async def resend_verification(db: Database, hub: RedisHub, *, user_id: int) -> None:
    user = await queries.select_user(db, user_id=user_id)
    if user is None:
        raise APIError(401, "not_authenticated")
    if user["email_verified_at"] is not None:
        raise APIError(409, "already_verified", "Your email address is already verified.")
    await send_verification(hub, user=user)


def _invalid_token() -> APIError:
    return APIError(400, "invalid_token", "The link is invalid, used or expired.")


async def verify_email(db: Database, hub: RedisHub, *, token: str) -> Row:
    """Use up a verification token; the verified user."""
    payload = await onetime.consume(hub, VERIFY_PURPOSE, token)
    if payload is None:
        raise _invalid_token()
    async with write_transaction(db) as tx:
        user = await queries.update_email_verified(db, user_id=int(payload["user_id"]), email=str(payload["email"]))
        if user is None:  # the address changed since the mail went out
            raise _invalid_token()
        tx.invalidate_user(user["id"], "me")
    return user


async def request_password_reset(*, email: str) -> None:
    """Answer at once, whether or not the address exists: the lookup and the mail run in the
    background, so the response's timing says nothing about the account."""
    current_app.add_background_task(_send_password_reset, email)


async def _send_password_reset(email: str) -> None:
    db, hub = current_app.extensions["db"], current_app.extensions["redis"]
    user = await queries.select_user_by_email(db, email=email)
    if user is None:
        return
    token = await onetime.issue(hub, RESET_PURPOSE, {"user_id": user["id"]}, ttl=onetime.PASSWORD_RESET_TTL)
    await mailer.send(
        mailer.Message(
            to=user["email"],
            subject="Reset your TinyCRM password",
            text=(
                "Someone (hopefully you) asked to reset your TinyCRM password. Choose a new one here:\n"
                f"{_link('/reset-password', token)}\n\nThe link works once, for 1 hour. "
                "If you did not ask, ignore this mail."
            ),
        )
    )


async def confirm_password_reset(db: Database, hub: RedisHub, *, token: str, password: str) -> int:
    """Set the new password and sign the user out everywhere; the user id."""
    payload = await onetime.consume(hub, RESET_PURPOSE, token)
    if payload is None:
        raise _invalid_token()
    user_id = int(payload["user_id"])
    password_hash = await passwords.hash_password(password)
    async with write_transaction(db) as tx:
        if not await queries.update_password(db, user_id=user_id, password_hash=password_hash):
            raise _invalid_token()
        # the link reached the inbox, which proves the address
        await db.execute(
            "UPDATE users SET email_verified_at = coalesce(email_verified_at, now()) WHERE id = :id", {"id": user_id}
        )
        tx.invalidate_user(user_id, "me")
    await sessions.revoke_all_sessions(db, hub, user_id=user_id)
    return user_id


async def update_profile(db: Database, *, user_id: int, name: str) -> Row:
    """Rename the user; their /me changes after commit."""
    async with write_transaction(db) as tx:
        user = await queries.update_user_name(db, user_id=user_id, name=name)
        if user is None:
            raise APIError(404, "user_not_found", "No such user.")
        tx.invalidate_user(user_id, "me")
    return user


async def change_password(
    db: Database, hub: RedisHub, *, user_id: int, session_id: str, current_password: str, password: str
) -> int:
    """Set a new password after checking the current one; every other session is signed out.
    Returns how many sessions were revoked."""
    current_hash = await queries.select_password_hash(db, user_id=user_id)
    if not await passwords.verify_password(current_hash, current_password):
        raise APIError(
            422, "wrong_password", "The current password is not right.", fields={"current_password": "is not right"}
        )
    await queries.update_password(db, user_id=user_id, password_hash=await passwords.hash_password(password))
    return len(await sessions.revoke_all_sessions(db, hub, user_id=user_id, except_id=session_id))
