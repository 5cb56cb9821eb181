"""The cache: org-scoped keys under per-domain generations (see docs/redis.md).

Writers bump the generations of the domains they change **after commit**;
readers read the generation **before** querying PostgreSQL and store the
result under it, so a result computed before a write can never be served after it.
"""

from __future__ import annotations

from crm.redis import RedisHub


def generation_key(org_id: int, domain: str) -> str:
    return f"tc:{org_id}:gen:{domain}"


async def bump(hub: RedisHub, org_id: int, *domains: str) -> None:
    """Invalidate every cached view of these domains in this org (call after commit)."""
    if not domains:
        return

    async def incr(client):  # type: ignore[no-untyped-def]
        async with client.pipeline(transaction=False) as pipe:
            for domain in domains:
                pipe.incr(generation_key(org_id, domain))
            await pipe.execute()

    await hub.guarded(incr, None)
