"""Sign-in with an OpenID Connect provider (authorization code flow with PKCE).

Configured by OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_NAME (the
`<provider>` in the URLs). `start` keeps state, nonce and the PKCE verifier in Redis
for 10 minutes under the state's SHA-256; `finish` consumes them once (GETDEL),
exchanges the code, verifies the ID token against the provider's JWKS (signature,
iss, aud, exp, nonce) and finds, links (by verified email) or creates the user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from databases import Database

from crm.auth import onetime, queries
from crm.config import Config
from crm.errors import APIError
from crm.redis import RedisHub
from crm.uow import write_transaction

STATE_PURPOSE = "oauth"
METADATA_TTL = 3600
ALLOWED_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

# Provider metadata and keys change rarely: kept per process for an hour (keys refetched on an unknown kid).
_metadata: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, tuple[float, dict[str, Any]]] = {}


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: str | None


def configured(config: Config, name: str) -> Provider:
    """The provider with this name, or a 404."""
    if not (config.oidc_issuer and config.oidc_client_id) or name != config.oidc_name:
        raise APIError(404, "unknown_provider", "No such sign-in provider.")
    return Provider(name, config.oidc_issuer.rstrip("/"), config.oidc_client_id, config.oidc_client_secret)


def redirect_uri(config: Config, provider: Provider) -> str:
    return f"{config.base_url}/api/v1/auth/oauth/{provider.name}/callback"


def _provider_error(what: str) -> APIError:
    return APIError(502, "oauth_provider_error", f"The sign-in provider failed: {what}.")


async def _get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        response = await client.get(url)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise _provider_error(f"GET {url}") from error
    if not isinstance(data, dict):
        raise _provider_error(f"GET {url} is not a JSON object")
    return data


async def metadata(client: httpx.AsyncClient, provider: Provider) -> dict[str, Any]:
    cached = _metadata.get(provider.issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    data = await _get_json(client, f"{provider.issuer}/.well-known/openid-configuration")
    if str(data.get("issuer", "")).rstrip("/") != provider.issuer:
        raise _provider_error("discovery names another issuer")
    for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(needed), str):
            raise _provider_error(f"discovery lacks {needed}")
    _metadata[provider.issuer] = (time.monotonic() + METADATA_TTL, data)
    return data


async def _signing_key(client: httpx.AsyncClient, jwks_uri: str, kid: str | None, alg: str) -> jwt.PyJWK:
    for attempt in range(2):
        cached = _jwks.get(jwks_uri)
        if attempt == 1 or not cached or cached[0] <= time.monotonic():
            cached = (time.monotonic() + METADATA_TTL, await _get_json(client, jwks_uri))
            _jwks[jwks_uri] = cached
        keys = [k for k in cached[1].get("keys", []) if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        matching = [k for k in keys if kid is None or k.get("kid") == kid]
        if matching:
            try:
                return jwt.PyJWK(matching[0], algorithm=alg)
            except (jwt.PyJWKError, jwt.InvalidKeyError) as error:
                raise _invalid_id_token("unusable signing key") from error
    raise _invalid_id_token("unknown signing key")


def _invalid_state() -> APIError:
    return APIError(400, "invalid_oauth_state", "The sign-in attempt is unknown, expired or already used.")


def _invalid_id_token(why: str) -> APIError:
    return APIError(400, "invalid_id_token", f"The provider's ID token was refused: {why}.")


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


async def start(hub: RedisHub, config: Config, provider: Provider) -> str:
    """The provider's authorization URL for a new, single-use sign-in attempt."""
    async with httpx.AsyncClient(timeout=10) as client:
        meta = await metadata(client, provider)
    state, state_hash = onetime.new_token()
    nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    await onetime.store(
        hub,
        STATE_PURPOSE,
        state_hash,
        {"provider": provider.name, "nonce": nonce, "verifier": verifier},
        ttl=onetime.OAUTH_STATE_TTL,
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri(config, provider),
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        }
    )
    endpoint = meta["authorization_endpoint"]
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


async def _exchange(
    client: httpx.AsyncClient, config: Config, provider: Provider, meta: dict[str, Any], code: str, verifier: str
) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(config, provider),
        "code_verifier": verifier,
        "client_id": provider.client_id,
    }
    try:
        if provider.client_secret:
            basic = httpx.BasicAuth(provider.client_id, provider.client_secret)
            response = await client.post(meta["token_endpoint"], data=form, auth=basic)
        else:
            response = await client.post(meta["token_endpoint"], data=form)
    except httpx.HTTPError as error:
        raise _provider_error("token endpoint unreachable") from error
    if response.status_code != 200:
        raise APIError(400, "oauth_code_rejected", "The provider refused the sign-in code.")
    try:
        id_token = response.json().get("id_token")
    except ValueError as error:
        raise _provider_error("token response is not JSON") from error
    if not isinstance(id_token, str):
        raise _provider_error("no id_token in the token response")
    return id_token


async def _verify_id_token(
    client: httpx.AsyncClient, provider: Provider, meta: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as error:
        raise _invalid_id_token("malformed") from error
    alg = header.get("alg")
    supported = set(meta.get("id_token_signing_alg_values_supported") or ["RS256"])
    if alg not in ALLOWED_ALGORITHMS or alg not in supported:
        raise _invalid_id_token("unexpected algorithm")
    key = await _signing_key(client, meta["jwks_uri"], header.get("kid"), alg)
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=[alg],
            audience=provider.client_id,
            issuer=meta["issuer"],
            leeway=30,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise _invalid_id_token(str(error)) from error
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != provider.client_id:
        raise _invalid_id_token("issued to another party")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise _invalid_id_token("nonce mismatch")
    return claims


async def finish(
    db: Database,
    hub: RedisHub,
    config: Config,
    provider: Provider,
    *,
    state: str | None,
    code: str | None,
    error: str | None,
) -> int:
    """Complete a sign-in attempt; the user id to start a session for."""
    attempt = await onetime.consume(hub, STATE_PURPOSE, state or "")
    if attempt is None or attempt.get("provider") != provider.name:
        raise _invalid_state()
    if error:
        raise APIError(400, "oauth_denied", "The sign-in was cancelled or refused at the provider.")
    if not code:
        raise APIError(400, "oauth_code_missing", "The provider sent no sign-in code.")
    async with httpx.AsyncClient(timeout=10) as client:
        meta = await metadata(client, provider)
        id_token = await _exchange(client, config, provider, meta, code, attempt["verifier"])
        claims = await _verify_id_token(client, provider, meta, id_token, attempt["nonce"])
    return await link_user(db, issuer=provider.issuer, claims=claims)


async def link_user(db: Database, *, issuer: str, claims: dict[str, Any]) -> int:
    """The user for these verified claims: a known identity, else the account with this verified
    email (linked now), else a new account."""
    subject = str(claims["sub"])[:255]
    async with write_transaction(db) as tx:
        user_id = await queries.select_identity_user(db, issuer=issuer, subject=subject)
        if user_id is not None:
            return user_id
        email = claims.get("email")
        verified = claims.get("email_verified") is True
        if not verified or not isinstance(email, str) or "@" not in email or len(email) > 254:
            raise APIError(
                400, "oauth_email_unverified", "The provider did not confirm an email address for this account."
            )
        user = await queries.select_user_by_email(db, email=email)
        if user is None:
            name = str(claims.get("name") or email.split("@")[0])[:200] or email
            user = await queries.insert_verified_user(db, email=email, name=name)
            user = user or await queries.select_user_by_email(db, email=email)  # a concurrent sign-up won
            assert user is not None
        elif user["email_verified_at"] is None:
            await queries.update_email_verified(db, user_id=user["id"], email=email)
        tx.invalidate_user(user["id"], "me")
        await queries.insert_identity(db, issuer=issuer, subject=subject, user_id=user["id"], email=email)
    return int(user["id"])
