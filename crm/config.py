"""Configuration from the environment (12-factor)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("tinycrm", appauthor=False))


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass
class Config:
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = ""
    base_url: str = "http://localhost:8000"
    data_dir: Path = field(default_factory=_default_data_dir)
    smtp_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"
    # Limits and lifetimes
    access_token_ttl: int = 15 * 60
    session_idle_ttl: int = 14 * 24 * 3600
    session_lifetime: int = 30 * 24 * 3600  # absolute: idle or not, a session ends then
    max_body_bytes: int = 1024 * 1024
    db_pool_min: int = 2
    db_pool_max: int = 10
    redis_pool_max: int = 50
    pubsub_channel: str = "tinycrm"
    # Rate limits per group: (requests, window seconds)
    rate_limits: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {
            "read": (600, 60),
            "write": (120, 60),
            "search": (120, 60),
            "auth": (20, 60),
        }
    )
    # RATE_LIMIT=off turns the limiter off entirely (benchmarks only: `python -m bench ratelimit`)
    rate_limit_enabled: bool = True
    testing: bool = False
    # OpenID Connect sign-in (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_NAME)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_name: str = "oidc"

    @classmethod
    def from_env(cls) -> Config:
        secret = os.environ.get("SECRET_KEY", "")
        data_dir = Path(os.environ.get("TINYCRM_DATA_DIR") or _default_data_dir())
        if not secret:
            secret = _persistent_dev_secret(data_dir)
        proxies = tuple(p.strip() for p in os.environ.get("TRUSTED_PROXIES", "").split(",") if p.strip())
        config = cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            redis_url=os.environ.get("REDIS_URL") or None,
            secret_key=secret,
            base_url=os.environ.get("BASE_URL", "http://localhost:8000").rstrip("/"),
            data_dir=data_dir,
            smtp_url=os.environ.get("SMTP_URL") or None,
            trusted_proxies=proxies,
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            db_pool_max=_int("DB_POOL_MAX", 10),
            pubsub_channel=os.environ.get("TINYCRM_PUBSUB_CHANNEL", "tinycrm"),
            oidc_issuer=(os.environ.get("OIDC_ISSUER") or "").rstrip("/") or None,
            oidc_client_id=os.environ.get("OIDC_CLIENT_ID") or None,
            oidc_client_secret=os.environ.get("OIDC_CLIENT_SECRET") or None,
            oidc_name=os.environ.get("OIDC_NAME") or "oidc",
            rate_limit_enabled=os.environ.get("RATE_LIMIT", "on").lower() not in ("off", "0", "false"),
        )
        for group in config.rate_limits:
            raw = os.environ.get(f"RATE_LIMIT_{group.upper()}")  # e.g. "600/60"
            if raw:
                count, _, window = raw.partition("/")
                config.rate_limits[group] = (int(count), int(window or 60))
        return config

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


def _persistent_dev_secret(data_dir: Path) -> str:
    """Without SECRET_KEY, keep one random key in the data directory so that
    sessions survive restarts and every local worker process agrees on it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
