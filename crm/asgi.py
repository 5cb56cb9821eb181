"""The ASGI app: Quart and socket.io in one (`uvicorn crm.asgi:app`)."""

from __future__ import annotations

import socketio
from quart import Quart

from crm import create_app
from crm.config import Config
from crm.embedded import resolve_urls
from realtime.server import create_socket_server


def build(config: Config | None = None) -> tuple[socketio.ASGIApp, Quart]:
    config = config or Config.from_env()
    # Resolve (or start) the backing services now: the socket.io manager needs Redis's URL.
    config.database_url, config.redis_url = resolve_urls(config.database_url, config.redis_url, config.data_dir)
    quart_app = create_app(config)
    sio = create_socket_server(quart_app, config)
    return socketio.ASGIApp(sio, other_asgi_app=quart_app, socketio_path="socket.io"), quart_app


app, quart_app = build()
