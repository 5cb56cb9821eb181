"""Shared HTTP helpers: list parameters, opaque keyset cursors, client address."""

from __future__ import annotations

import base64
import functools
import ipaddress
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from quart import current_app, request
from quart_schema import document_response

from crm.errors import APIError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise APIError(422, "validation_error", fields={"limit": "must be an integer"}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise APIError(422, "validation_error", fields={"limit": f"must be between 1 and {MAX_LIMIT}"})
    return limit


def parse_int_param(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise APIError(422, "validation_error", fields={name: "must be an integer id"}) from None
    if not 0 < value < 2**63:
        raise APIError(422, "validation_error", fields={name: "must be a positive id"})
    return value


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(raw: str | None, *, length: int) -> list[Any] | None:
    """The keyset values in an opaque cursor; a malformed one is a 422 on `cursor`."""
    if raw is None or raw == "":
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor"}) from None
    if not isinstance(values, list) or len(values) != length:
        raise APIError(422, "validation_error", fields={"cursor": "is not a valid cursor"})
    return values


def page(items: list[Mapping[str, Any]], limit: int, cursor_of: Any) -> dict[str, Any]:
    """Answer a keyset page: the query fetched limit + 1 rows to know if there is more."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(cursor_of(items[-1])) if more and items else None}


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
}


def request_id_from(incoming: str) -> str:
    """The client's X-Request-ID when it is a sane one, else a new id."""
    return incoming if 0 < len(incoming) <= 64 and incoming.isascii() else secrets.token_hex(8)


def client_ip() -> str | None:
    """The client's address, honouring X-Forwarded-For only from TRUSTED_PROXIES."""
    trusted = current_app.config["TINYCRM"].trusted_proxies
    return client_ip_of(request.remote_addr, request.headers.get("X-Forwarded-For", ""), trusted)


def client_ip_of(remote: str | None, forwarded_for: str, trusted: Sequence[str]) -> str | None:
    """`client_ip()` from its parts (the edge has no Quart request)."""
    if not trusted or not remote:
        return remote
    chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    hops = [*chain, remote]
    networks = _networks(tuple(trusted))
    # Walk from the nearest hop back; the first address that is not a trusted proxy is the client.
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return hop[:64]
        if not any(address in net for net in networks):
            return hop
    return hops[0]


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(p, strict=False) for p in trusted]


def version_from_if_match(raw: str | None) -> int | None:
    """The record version an `If-Match` names: `"3"`, `W/"3"`, `3`, or a record ETag `"3-<hash>"`.

    None when the header is absent or `*`; anything else is a 422 on `If-Match`."""
    if raw is None or raw.strip() in ("", "*"):
        return None
    tag = raw.strip().removeprefix("W/").strip('"')
    version = tag.split("-", 1)[0]
    if not version.isdigit() or not 0 < int(version) < 2**31:
        raise APIError(422, "validation_error", fields={"If-Match": "must be a record version or its ETag"})
    return int(version)


DOCUMENTED_RESPONSE = "_tinycrm_documented_response"
F = TypeVar("F", bound=Callable[..., Any])


def documented_response(model: type[BaseModel]) -> Callable[[F], F]:
    """`validate_response(model)` for the docs only: the 200 body is documented in OpenAPI
    but not run through pydantic on every request.

    For the hot list routes, whose items come straight from their own SQL: validating and
    re-serialising a page of 100 rows cost more than a record GET's whole handler. Their
    bodies are still checked against `model`, field for field, by
    tests/test_documented_responses.py, which finds every route marked here."""

    def decorator(func: F) -> F:
        setattr(func, DOCUMENTED_RESPONSE, model)
        return document_response(model)(func)

    return decorator
