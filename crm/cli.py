"""The `tinycrm` command: serve, migrate, worker, seed-demo, create-user."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import secrets
import signal
import sys
from typing import Any

from crm import logs
from crm.config import Config
from crm.embedded import resolve_urls

log = logging.getLogger("tinycrm")

DEMO_EMAIL = "demo@tinycrm.local"
DEMO_ORG = "demo"


def _config() -> Config:
    config = Config.from_env()
    logs.configure(config.log_level)
    config.database_url, config.redis_url = resolve_urls(config.database_url, config.redis_url, config.data_dir)
    return config


class ProgressBar:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, stream: Any = sys.stderr, width: int = 30) -> None:
        self.stream, self.width, self.kind = stream, width, ""

    def __call__(self, kind: str, done: int, total: int) -> None:
        if kind != self.kind and self.kind:
            self.stream.write("\n")
        self.kind = kind
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{kind:<11} [{bar}] {done:>9,}/{total:,}")
        if done >= total:
            self.stream.write("\n")
            self.kind = ""
        self.stream.flush()


async def _with_app(config: Config, work: Any) -> Any:
    """Run `work(app)` inside a started app (database, Redis, migrations) and stop it."""
    from crm import create_app

    app = create_app(config)
    async with app.app_context():
        await app.startup()
        try:
            return await work(app)
        finally:
            await app.shutdown()


async def _create_user(config: Config, email: str, name: str, password: str) -> dict[str, Any]:
    from crm.auth import service
    from crm.db import get_db
    from crm.redis import get_redis

    async def work(_app: Any) -> dict[str, Any]:
        return dict(await service.register_user(get_db(), get_redis(), email=email, password=password, name=name))

    result: dict[str, Any] = await _with_app(config, work)
    return result


async def _ensure_demo(
    config: Config, *, contacts: int, companies: int, deals: int, activities: int, progress: Any = None
) -> tuple[str, str | None, str, bool]:
    """The demo user and org, created on first run. Returns (email, password or None, org slug, created)."""
    from crm.auth import queries as user_queries
    from crm.auth import service as auth_service
    from crm.db import get_db
    from crm.redis import get_redis
    from crm.seed import seed_bulk
    from crm.tenancy import service as tenancy_service

    login_file = config.data_dir / "demo-login.txt"

    async def work(_app: Any) -> tuple[str, str | None, str, bool]:
        db = get_db()
        user = await user_queries.select_user_by_email(db, email=DEMO_EMAIL)
        if user is not None:
            password = login_file.read_text().strip() if login_file.exists() else None
            existing = await db.fetch_one(
                "SELECT o.slug FROM orgs o JOIN memberships m ON m.org_id = o.id WHERE m.user_id = :u"
                " ORDER BY o.id LIMIT 1",
                {"u": user["id"]},
            )
            return DEMO_EMAIL, password, existing["slug"] if existing else DEMO_ORG, False
        password = secrets.token_urlsafe(9)
        user = await auth_service.register_user(db, get_redis(), email=DEMO_EMAIL, password=password, name="Demo User")
        await db.execute("UPDATE users SET email_verified_at = now() WHERE id = :id", {"id": user["id"]})
        created = await tenancy_service.create_org(db, user_id=user["id"], name="Demo Sales", slug=None, currency="USD")
        await seed_bulk(
            config.database_url or "",
            org_id=created["id"],
            owner_id=user["id"],
            contacts=contacts,
            companies=companies,
            deals=deals,
            activities=activities,
            progress=progress,
        )
        login_file.parent.mkdir(parents=True, exist_ok=True)
        login_file.write_text(password)
        login_file.chmod(0o600)
        return DEMO_EMAIL, password, created["slug"], True

    result: tuple[str, str | None, str, bool] = await _with_app(config, work)
    return result


def cmd_migrate(_args: argparse.Namespace) -> int:
    from crm.db import migrate

    config = _config()
    applied = asyncio.run(migrate(config.database_url or ""))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from crm.db import migrate

    if not os.environ.get("BASE_URL"):
        # the origin browsers will use: links in mail and socket.io's allowed origin follow it
        host = "localhost" if args.host in ("127.0.0.1", "0.0.0.0", "localhost", "::") else args.host
        os.environ["BASE_URL"] = f"http://{host}:{args.port}"
    config = _config()
    asyncio.run(migrate(config.database_url or ""))
    if args.demo:
        email, password, slug, created = asyncio.run(
            _ensure_demo(config, contacts=200, companies=40, deals=60, activities=120, progress=None)
        )
        print(
            f"\nDemo org '{slug}' {'created' if created else 'ready'}. Sign in at "
            f"http://{args.host}:{args.port}/login as {email}"
            + (f" with password {password}" if password else "")
            + "\n",
            flush=True,
        )
    os.environ["TINYCRM_AUTO_MIGRATE"] = "0"  # migrated above, once
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler the process
    # would die without running atexit, leaving the embedded PostgreSQL and Redis running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        "crm.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=config.log_level.lower(),
        proxy_headers=bool(config.trusted_proxies),
        forwarded_allow_ips=",".join(config.trusted_proxies) or None,
    )
    return 0


def cmd_worker(_args: argparse.Namespace) -> int:
    from crm.worker import run_worker

    config = _config()
    asyncio.run(run_worker(config))
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from crm.seed import seed_bulk

    config = _config()
    from crm.db import migrate

    asyncio.run(migrate(config.database_url or ""))
    bar = ProgressBar()
    email, password, slug, created = asyncio.run(
        _ensure_demo(
            config,
            contacts=args.contacts,
            companies=args.companies,
            deals=args.deals,
            activities=args.activities,
            progress=bar,
        )
    )
    if not created:

        async def more() -> None:
            import asyncpg

            from crm.db import asyncpg_dsn

            conn = await asyncpg.connect(asyncpg_dsn(config.database_url or ""))
            row = await conn.fetchrow(
                "SELECT o.id, m.user_id FROM orgs o JOIN memberships m ON m.org_id = o.id"
                " WHERE o.slug = $1 AND m.role = 'owner' LIMIT 1",
                slug,
            )
            await conn.close()
            await seed_bulk(
                config.database_url or "",
                org_id=row["id"],
                owner_id=row["user_id"],
                contacts=args.contacts,
                companies=args.companies,
                deals=args.deals,
                activities=args.activities,
                progress=bar,
            )

        asyncio.run(more())
    print(f"seeded org '{slug}'; sign in as {email}" + (f" / {password}" if password else ""))
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    config = _config()
    password = args.password or os.environ.get("TINYCRM_PASSWORD") or getpass.getpass("Password: ")
    if len(password) < 8:
        print("password must be at least 8 characters", file=sys.stderr)
        return 2
    from crm.errors import APIError

    try:
        user = asyncio.run(_create_user(config, args.email, args.name, password))
    except APIError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"created user {user['id']} <{user['email']}>")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinycrm", description="TinyCRM: a live, multi-tenant CRM.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web app (uvicorn); embedded PostgreSQL and Redis by default")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="seed a demo org on first run and print the login")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("worker", help="background work: outbox relay, reminders").set_defaults(func=cmd_worker)

    seed = sub.add_parser("seed-demo", help="seed the demo org with N records (COPY, with progress)")
    seed.add_argument("--contacts", type=int, default=1000)
    seed.add_argument("--companies", type=int, default=None)
    seed.add_argument("--deals", type=int, default=500)
    seed.add_argument("--activities", type=int, default=None)
    seed.set_defaults(func=cmd_seed_demo)

    user = sub.add_parser("create-user", help="create a user account")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--password", help="(else $TINYCRM_PASSWORD, else prompted)")
    user.set_defaults(func=cmd_create_user)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "companies", 0) is None:
        args.companies = max(1, args.contacts // 10)
    if getattr(args, "activities", 0) is None:
        args.activities = args.deals
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
