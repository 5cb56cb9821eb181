"""TinyCRM: `create_app(config)` builds the Quart app."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

import quart_schema.openapi
from pydantic import BaseModel
from quart import Quart, Response, g, request
from quart.sessions import SecureCookieSessionInterface
from quart_auth import QuartAuth
from quart_schema import HttpSecurityScheme, Info, QuartSchema
from quart_schema.conversion import convert_response_return_value
from werkzeug.routing import BaseConverter

from crm import cache, logs, metrics, ratelimit
from crm import db as dbmod
from crm.auth.guard import check_csrf
from crm.config import Config
from crm.edge import Edge
from crm.errors import APIError, register_error_handlers
from crm.http import SECURITY_HEADERS, request_id_from
from crm.jsonprovider import OrjsonProvider
from crm.redis import RedisHub
from crm.tenancy.scope import resolve_org_scope

log = logging.getLogger(__name__)

# Feature packages with a `routes.blueprint` (API) and optionally `pages.blueprint` (HTML).
FEATURES = [
    "crm.auth",
    "crm.tenancy",
    "crm.contacts",
    "crm.companies",
    "crm.deals",
    "crm.activities",
    "crm.dashboard",
    "crm.search",
    "crm.invitations",
    "crm.mail",
    "crm.twofactor",
    "crm.apikeys",
    "crm.web",
    "crm.webrecords",
    "crm.webapp",
    "crm.chat",
    "crm.notifications",
]


# quart-schema's pattern lets `[^:]*` run across `>` and `<`, so `/orgs/<org>/x/<id:x_id>` came out as
# `/orgs/{x_id}` in the spec; keep each variable within its own brackets.
quart_schema.openapi.PATH_RE = re.compile(r"<(?:[^:<>]*:)?([^<>]+)>")


class IdConverter(BaseConverter):
    """A positive bigint id; anything else does not match the route (404)."""

    regex = r"[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(value)


def create_app(config: Config | None = None) -> Quart:
    config = config or Config.from_env()
    logs.configure(config.log_level)
    app = Quart(__name__, template_folder="../frontend/templates", static_folder="../frontend/static")
    app.secret_key = config.secret_key
    app.url_map.converters["id"] = IdConverter
    app.url_map.strict_slashes = False
    app.config.update(
        TINYCRM=config,
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        QUART_AUTH_COOKIE_NAME="tc_session",
        QUART_AUTH_COOKIE_SECURE=config.secure_cookies,
        QUART_AUTH_COOKIE_SAMESITE="Lax",
        QUART_AUTH_COOKIE_HTTP_ONLY=True,
        QUART_AUTH_DURATION=config.session_lifetime,  # idleness is enforced by the session registry
        QUART_AUTH_SALT="tinycrm.session-cookie.v1",
        QUART_SCHEMA_CONVERSION_PREFERENCE="pydantic",
    )
    app.session_interface = NoCookieSession()
    QuartAuth(app)
    make_plain_response = app.make_response
    QuartSchema(
        app,
        info=Info(title="TinyCRM API", version="1"),
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": HttpSecurityScheme(scheme="bearer", bearer_format="tinycrm access token")},
        security=[{"bearer": []}],
    )
    app.make_response = _converting_models(make_plain_response)  # type: ignore[method-assign,assignment]
    # after QuartSchema, which installs a stdlib-json provider of its own
    app.json = OrjsonProvider(app)
    register_error_handlers(app)

    for feature in FEATURES:
        for part in ("routes", "pages"):
            try:
                module = importlib.import_module(f"{feature}.{part}")
            except ModuleNotFoundError as error:
                if error.name != f"{feature}.{part}":
                    raise
                continue
            app.register_blueprint(module.blueprint)

    _register_lifecycle(app, config)
    _register_request_hooks(app)
    _register_health(app)
    cache.init_app(app)
    metrics.init_app(app)
    app.asgi_app = Edge(app, app.asgi_app)  # type: ignore[method-assign,assignment]
    return app


class NoCookieSession(SecureCookieSessionInterface):
    """Quart's own cookie session is unused (sign-in is quart-auth's cookie and the Redis session
    registry): skip unsigning and re-signing it on every request. `session` is a NullSession,
    which refuses writes, so a use of it shows at once."""

    async def open_session(self, app: Quart, request: Any) -> None:
        return None

    async def save_session(self, app: Quart, session: Any, response: Any) -> None:
        return None


def _converting_models(make_response: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    """quart-schema's make_response wrapper, but only where a model needs it.

    quart-schema builds a pydantic TypeAdapter for every dict or list a route returns, a tenth
    of a cheap request's time; our JSON provider already encodes such values (and any model
    inside them) with orjson, so they go straight through."""

    async def converted(result: Any) -> Any:
        parts = result if isinstance(result, tuple) else (result,)
        if any(isinstance(part, BaseModel) or dataclasses.is_dataclass(part) for part in parts):
            result = convert_response_return_value(result)
        return await make_response(result)

    return converted


def _register_lifecycle(app: Quart, config: Config) -> None:
    @app.before_serving
    async def connect() -> None:
        from crm.embedded import resolve_urls

        database_url, redis_url = resolve_urls(config.database_url, config.redis_url, config.data_dir)
        config.database_url, config.redis_url = database_url, redis_url
        if os.environ.get("TINYCRM_AUTO_MIGRATE", "1") != "0":
            await dbmod.migrate(database_url)
        database = dbmod.database_from_url(database_url, min_size=config.db_pool_min, max_size=config.db_pool_max)
        await database.connect()
        app.extensions["db"] = database
        app.extensions["redis"] = RedisHub(redis_url, max_connections=config.redis_pool_max)
        for hook in app.extensions.get("tinycrm_startup", []):
            await hook(app)

    @app.after_serving
    async def disconnect() -> None:
        for hook in app.extensions.get("tinycrm_shutdown", []):
            await hook(app)
        if "db" in app.extensions:
            await _close_database(app.extensions.pop("db"))
        if "redis" in app.extensions:
            await app.extensions.pop("redis").close()


async def _close_database(database: Any) -> None:
    """Close the pool, but never hang shutdown on a connection a cancelled task failed to give back."""
    try:
        await asyncio.wait_for(database.disconnect(), timeout=DB_CLOSE_TIMEOUT)
    except TimeoutError:
        log.warning("the database pool did not close in %ss; terminating its connections", DB_CLOSE_TIMEOUT)
        pool = getattr(getattr(database, "_backend", None), "_pool", None)
        if pool is not None:
            pool.terminate()


DB_CLOSE_TIMEOUT = 5.0


def _register_request_hooks(app: Quart) -> None:
    @app.before_request
    async def start_request() -> None:
        g.request_id = request_id_from(request.headers.get("X-Request-ID", ""))
        logs.request_id_var.set(g.request_id)
        await ratelimit.enforce()  # before CSRF and the org guard: refused requests count too
        check_csrf()
        await resolve_org_scope()

    @app.after_request
    async def finish_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        ratelimit.add_headers(response)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/docs"):
            # the API docs page loads its UI from a CDN
            del response.headers["Content-Security-Policy"]
        return response


def _register_health(app: Quart) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> tuple[dict[str, Any], int]:
        """PostgreSQL and Redis both answer."""
        checks: dict[str, str] = {}
        try:
            await dbmod.ping(app.extensions["db"])
            checks["postgres"] = "ok"
        except Exception as error:
            checks["postgres"] = f"error: {type(error).__name__}"
        try:
            await app.extensions["redis"].client.ping()
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"error: {type(error).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503


__all__ = ["APIError", "Config", "create_app"]
