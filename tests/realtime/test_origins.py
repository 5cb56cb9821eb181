"""Which browser origins may open a socket."""

from __future__ import annotations

from crm.config import Config
from realtime.server import allowed_origins


def test_a_public_base_url_allows_exactly_its_origin() -> None:
    assert allowed_origins(Config(base_url="https://crm.example.com")) == ["https://crm.example.com"]


def test_a_loopback_base_url_allows_every_loopback_spelling_on_its_port_only() -> None:
    origins = allowed_origins(Config(base_url="http://localhost:8030"))
    assert set(origins) == {"http://localhost:8030", "http://127.0.0.1:8030", "http://[::1]:8030"}
    assert "http://127.0.0.1:8031" not in origins
