"""SQL for orgs and memberships."""

from __future__ import annotations

from databases import Database

from crm.db import Row

ORG_COLUMNS = "o.id, o.slug, o.name, o.currency, o.require_2fa, o.created_at, o.updated_at, o.version"
DEFAULT_STAGES = [
    ("Lead", "open"),
    ("Qualified", "open"),
    ("Proposal", "open"),
    ("Negotiation", "open"),
    ("Won", "won"),
    ("Lost", "lost"),
]


async def insert_org(db: Database, *, slug: str, name: str, currency: str) -> Row:
    row = await db.fetch_one(
        "INSERT INTO orgs (slug, name, currency) VALUES (:slug, :name, :currency)"
        " RETURNING id, slug, name, currency, require_2fa, created_at, updated_at, version",
        {"slug": slug, "name": name, "currency": currency},
    )
    assert row is not None
    await db.execute("INSERT INTO org_counters (org_id) VALUES (:org)", {"org": row["id"]})
    return row._mapping


async def insert_default_stages(db: Database, *, org_id: int) -> None:
    for position, (name, kind) in enumerate(DEFAULT_STAGES):
        await db.execute(
            "INSERT INTO pipeline_stages (org_id, name, position, kind) VALUES (:org, :name, :position, :kind)",
            {"org": org_id, "name": name, "position": position, "kind": kind},
        )


async def slug_exists(db: Database, slug: str) -> bool:
    return bool(await db.fetch_val("SELECT 1 FROM orgs WHERE slug = :slug", {"slug": slug}))


async def select_org(db: Database, *, org_id: int) -> Row | None:
    row = await db.fetch_one(f"SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id = :org", {"org": org_id})
    return row._mapping if row else None


async def update_org(db: Database, *, org_id: int, changes: dict[str, object]) -> Row | None:
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    row = await db.fetch_one(
        f"UPDATE orgs o SET {sets}, updated_at = now(), version = version + 1"
        f" WHERE o.id = :org RETURNING {ORG_COLUMNS}",
        {"org": org_id, **changes},
    )
    return row._mapping if row else None


async def select_orgs_of_user(db: Database, *, user_id: int) -> list[Row]:
    rows = await db.fetch_all(
        "SELECT o.id, o.slug, o.name, m.role, o.created_at FROM memberships m"
        " JOIN orgs o ON o.id = m.org_id WHERE m.user_id = :user ORDER BY o.name, o.id",
        {"user": user_id},
    )
    return [row._mapping for row in rows]


async def select_org_ids_of_user(db: Database, *, user_id: int) -> list[int]:
    rows = await db.fetch_all("SELECT org_id FROM memberships WHERE user_id = :user ORDER BY org_id", {"user": user_id})
    return [int(row["org_id"]) for row in rows]


MEMBER_COLUMNS = "m.user_id, u.name, u.email, m.role, m.created_at AS joined_at"


async def select_members(db: Database, *, org_id: int) -> list[Row]:
    rows = await db.fetch_all(
        f"SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.org_id = :org ORDER BY lower(u.name), m.user_id",
        {"org": org_id},
    )
    return [row._mapping for row in rows]


async def select_member_for_update(db: Database, *, org_id: int, user_id: int) -> Row | None:
    row = await db.fetch_one(
        f"SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.org_id = :org AND m.user_id = :user FOR UPDATE OF m",
        {"org": org_id, "user": user_id},
    )
    return row._mapping if row else None


async def lock_owners(db: Database, *, org_id: int) -> int:
    """Lock the org's owner rows and count them (serialises last-owner checks)."""
    rows = await db.fetch_all(
        "SELECT user_id FROM memberships WHERE org_id = :org AND role = 'owner' FOR UPDATE",
        {"org": org_id},
    )
    return len(rows)


async def insert_membership(db: Database, *, org_id: int, user_id: int, role: str) -> bool:
    row = await db.fetch_one(
        "INSERT INTO memberships (org_id, user_id, role) VALUES (:org, :user, :role)"
        " ON CONFLICT DO NOTHING RETURNING user_id",
        {"org": org_id, "user": user_id, "role": role},
    )
    return row is not None


async def update_membership_role(db: Database, *, org_id: int, user_id: int, role: str) -> None:
    await db.execute(
        "UPDATE memberships SET role = :role, updated_at = now() WHERE org_id = :org AND user_id = :user",
        {"org": org_id, "user": user_id, "role": role},
    )


async def delete_membership(db: Database, *, org_id: int, user_id: int) -> None:
    await db.execute(
        "DELETE FROM memberships WHERE org_id = :org AND user_id = :user", {"org": org_id, "user": user_id}
    )
