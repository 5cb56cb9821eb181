"""orjson as Quart's JSON provider."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Response
from quart.json.provider import DefaultJSONProvider

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z  # UTC as "Z", like the pydantic-shaped responses


def _default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "_mapping"):
        return dict(value._mapping)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=_default, option=OPTIONS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=_default, option=OPTIONS)
        response: Response = self._app.response_class(body, mimetype="application/json")  # type: ignore[arg-type,assignment]
        return response


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=OPTIONS)
