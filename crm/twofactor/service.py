"""2FA rules: enrolment, confirmation, disabling, and the second step of sign-in.

A TOTP code is accepted once (the last used time step is kept in PostgreSQL and
claimed atomically); a recovery code is accepted once (marked used atomically).
The login challenge lives in Redis for 5 minutes under the SHA-256 of its token
and allows a few wrong codes before it is burnt.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from databases import Database
from quart import current_app

from crm.errors import APIError
from crm.redis import RedisHub
from crm.twofactor import queries, totp
from crm.uow import write_transaction

MFA_TTL = 300
MFA_MAX_ATTEMPTS = 5

# KEYS[1] the challenge. Returns {user id, attempts so far} or nil when unknown/expired.
ATTEMPT_SCRIPT = """
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return false end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {user, attempts}
"""


def _invalid_code() -> APIError:
    return APIError(422, "invalid_code", "That code is not valid.", fields={"code": "is not valid"})


def _unavailable() -> APIError:
    return APIError(503, "service_unavailable", "Two-factor sign-in is unavailable right now. Try again shortly.")


def _secret_key() -> str:
    return str(current_app.config["TINYCRM"].secret_key)


def _totp_secret(state: Any) -> str | None:
    return totp.unseal(_secret_key(), state["totp_secret"])


async def _state(db: Database, user_id: int) -> Any:
    state = await queries.select_totp_state(db, user_id=user_id)
    if state is None:
        raise APIError(401, "not_authenticated", "Sign in to continue.")
    return state


async def status(db: Database, *, user_id: int) -> dict[str, Any]:
    state = await _state(db, user_id)
    return {
        "enabled": state["totp_enabled_at"] is not None,
        "pending": state["totp_enabled_at"] is None and state["totp_secret"] is not None,
        "recovery_codes_left": await queries.count_recovery_codes_left(db, user_id=user_id),
    }


async def begin_setup(db: Database, *, user_id: int) -> dict[str, str]:
    """A new secret (pending until confirmed), its otpauth URI and a QR code of it."""
    state = await _state(db, user_id)
    secret = totp.new_secret()
    sealed = totp.seal(_secret_key(), secret)
    if not await queries.update_pending_secret(db, user_id=user_id, secret=sealed):
        raise APIError(409, "2fa_already_enabled", "Two-factor authentication is already on.")
    uri = totp.provisioning_uri(secret, state["email"])
    return {"secret": secret, "otpauth_uri": uri, "qr_code": totp.qr_data_uri(uri)}


async def _replace_recovery_codes(db: Database, *, user_id: int) -> list[str]:
    codes = totp.new_recovery_codes()
    await queries.delete_recovery_codes(db, user_id=user_id)
    await queries.insert_recovery_codes(db, user_id=user_id, hashes=[totp.hash_recovery_code(c) for c in codes])
    return codes


async def confirm_setup(db: Database, *, user_id: int, code: str) -> list[str]:
    """Turn 2FA on with a code from the new secret; the recovery codes are returned only here."""
    state = await _state(db, user_id)
    if state["totp_enabled_at"] is not None:
        raise APIError(409, "2fa_already_enabled", "Two-factor authentication is already on.")
    if state["totp_secret"] is None:
        raise APIError(409, "2fa_setup_not_started", "Start the setup first.")
    step = totp.matching_step(_totp_secret(state), code)
    async with write_transaction(db) as tx:
        if step is None or not await queries.claim_totp_step(db, user_id=user_id, step=step):
            raise _invalid_code()
        if not await queries.update_totp_enabled(db, user_id=user_id):
            raise APIError(409, "2fa_already_enabled", "Two-factor authentication is already on.")
        tx.invalidate_user(user_id, "me")
        codes = await _replace_recovery_codes(db, user_id=user_id)
    return codes


async def check_second_factor(db: Database, *, user_id: int, secret: str | None, code: str) -> bool:
    """A fresh TOTP code or an unused recovery code; either is consumed."""
    if totp.looks_like_totp(totp.normalise(code)):
        step = totp.matching_step(secret, code)
        return step is not None and await queries.claim_totp_step(db, user_id=user_id, step=step)
    return await queries.use_recovery_code(db, user_id=user_id, code_hash=totp.hash_recovery_code(code))


async def _require_enabled(db: Database, user_id: int) -> Any:
    state = await _state(db, user_id)
    if state["totp_enabled_at"] is None or state["totp_secret"] is None:
        raise APIError(409, "2fa_not_enabled", "Two-factor authentication is not on.")
    return state


async def disable(db: Database, *, user_id: int, code: str) -> None:
    """Turn 2FA off; needs a fresh TOTP code or a recovery code."""
    state = await _require_enabled(db, user_id)
    async with write_transaction(db) as tx:
        if not await check_second_factor(db, user_id=user_id, secret=_totp_secret(state), code=code):
            raise _invalid_code()
        await queries.update_totp_disabled(db, user_id=user_id)
        tx.invalidate_user(user_id, "me")


async def regenerate_recovery_codes(db: Database, *, user_id: int, code: str) -> list[str]:
    """Replace every recovery code (the old ones stop working); needs a fresh TOTP code."""
    state = await _require_enabled(db, user_id)
    if not totp.looks_like_totp(totp.normalise(code)):
        raise _invalid_code()
    async with db.transaction():
        if not await check_second_factor(db, user_id=user_id, secret=_totp_secret(state), code=code):
            raise _invalid_code()
        return await _replace_recovery_codes(db, user_id=user_id)


def mfa_key(mfa_token: str) -> str:
    return "tc:mfa:" + hashlib.sha256(mfa_token.encode()).hexdigest()


async def login_challenge(db: Database, hub: RedisHub, *, user_id: int) -> dict[str, Any] | None:
    """After a correct password: None if the user has no 2FA, else the challenge to answer with."""
    state = await _state(db, user_id)
    if state["totp_enabled_at"] is None:
        return None
    mfa_token = secrets.token_urlsafe(32)

    async def store(client: Any) -> bool:
        async with client.pipeline(transaction=True) as pipe:
            pipe.hset(mfa_key(mfa_token), mapping={"user": user_id, "attempts": 0})
            pipe.expire(mfa_key(mfa_token), MFA_TTL)
            await pipe.execute()
        return True

    if not await hub.guarded(store, False):
        raise _unavailable()
    return {"mfa_required": True, "mfa_token": mfa_token, "expires_in": MFA_TTL}


async def answer_challenge(db: Database, hub: RedisHub, *, mfa_token: str, code: str) -> int:
    """The user id once the challenge is answered with a valid code; the token is then spent."""
    key = mfa_key(mfa_token)
    attempt = await hub.guarded(lambda c: c.eval(ATTEMPT_SCRIPT, 1, key), None)
    if attempt is None:
        if hub.breaker.is_open:
            raise _unavailable()
        raise APIError(401, "invalid_mfa_token", "The sign-in step expired or is unknown. Sign in again.")
    user_id, attempts = int(attempt[0]), int(attempt[1])
    if attempts > MFA_MAX_ATTEMPTS:
        await hub.guarded(lambda c: c.delete(key), 0)
        raise APIError(401, "invalid_mfa_token", "Too many wrong codes. Sign in again.")
    state = await _require_enabled(db, user_id)
    if not await check_second_factor(db, user_id=user_id, secret=_totp_secret(state), code=code):
        if attempts == MFA_MAX_ATTEMPTS:
            await hub.guarded(lambda c: c.delete(key), 0)
        raise APIError(401, "invalid_code", "That code is not valid.", attempts_left=MFA_MAX_ATTEMPTS - attempts)
    if not await hub.guarded(lambda c: c.delete(key), 0):
        raise APIError(401, "invalid_mfa_token", "The sign-in step expired or is unknown. Sign in again.")
    return user_id
