"""Activities reuse the deals fixtures (org members); `sql` and `base` come from the root conftest."""

from tests.deals.conftest import member, other_org, viewer

__all__ = ["member", "other_org", "viewer"]
