"""One error type and one error shape for the whole API.

Every failure under /api/ answers {"error": {"code", "message", "fields"?}}.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from quart import Quart, Response, current_app, jsonify, redirect, render_template, request, url_for
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

MESSAGES = {
    400: "The request could not be understood.",
    401: "Sign in to continue.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "The record was changed by someone else.",
    413: "The request is too large.",
    415: "Send JSON with Content-Type: application/json.",
    422: "Some fields are invalid.",
    429: "Too many requests. Slow down.",
    503: "A backing service is unavailable. Try again shortly.",
}

CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


class APIError(Exception):
    """Raise to answer with DESIGN.md's error body."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(code or CODES.get(status, "error"))
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message or MESSAGES.get(status, "Request failed.")
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        error.update(self.extra)
        return {"error": error}


def error_response(error: APIError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def _fields_from_validation(exc: RequestSchemaValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    validation = exc.validation_error
    errors = getattr(validation, "errors", None)
    if callable(errors):
        for item in errors():
            loc = [str(part) for part in item.get("loc", ()) if part != "__root__"]
            name = ".".join(loc) or "body"
            fields.setdefault(name, item.get("msg", "invalid"))
    else:
        fields["body"] = str(validation)
    return fields


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


async def error_page(error: APIError) -> Response | WerkzeugResponse:
    """Browser pages: sign-in for 401, a proper page for everything else."""
    if error.status == 401:
        target = request.full_path.rstrip("?")
        return redirect(url_for("web.login", next=target))
    html = await render_template("pages/error.html", status=error.status, message=error.message)
    return Response(html, status=error.status, content_type="text/html; charset=utf-8")


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(APIError)
    async def handle_api_error(error: APIError) -> Response | WerkzeugResponse:
        if _is_api() or _wants_json():
            return error_response(error)
        return await error_page(error)

    @app.errorhandler(RequestSchemaValidationError)
    async def handle_validation(error: RequestSchemaValidationError) -> Response:
        validation = error.validation_error
        # quart-schema hands over a TypeError/ValueError when the body is not JSON at all
        if isinstance(validation, (TypeError, ValueError)) and not hasattr(validation, "errors"):
            return error_response(APIError(400, "malformed_json", "The body is not valid JSON."))
        return error_response(APIError(422, "validation_error", fields=_fields_from_validation(error)))

    @app.errorhandler(HTTPException)
    async def handle_http(error: HTTPException) -> Response | WerkzeugResponse | HTTPException:
        status = error.code or 500
        if not _is_api():
            if status in (401, 403, 404, 405, 413, 429):
                return await error_page(APIError(status))
            return error
        if status == 400:
            return error_response(APIError(400, "malformed_json", "The body is not valid JSON."))
        return error_response(APIError(status, CODES.get(status, "error")))

    @app.errorhandler(asyncpg.exceptions.DataError)
    async def handle_bad_value(error: asyncpg.exceptions.DataError) -> Response | WerkzeugResponse:
        # PostgreSQL refused a value the client sent (a NUL in text, a number out of range...):
        # the transaction rolled back, and it is the client's input, not our failure.
        current_app.logger.info("refused a value: %s", error)
        api_error = APIError(422, "invalid_value", "A value in the request cannot be stored.")
        return error_response(api_error) if _is_api() or _wants_json() else await error_page(api_error)

    @app.errorhandler(Exception)
    async def handle_unexpected(error: Exception) -> Response:
        current_app.logger.exception("unhandled error", exc_info=error)
        body = APIError(500, "internal_error", "Something went wrong on our side.")
        if not _is_api() and not request.accept_mimetypes.accept_json:
            response = Response("Internal server error", status=500, content_type="text/plain")
            return response
        return error_response(body)
