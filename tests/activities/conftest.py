"""Activities reuse the deals fixtures (org, members, SQL access)."""

from tests.deals.conftest import base, member, other_org, sql, viewer

__all__ = ["base", "member", "other_org", "sql", "viewer"]
