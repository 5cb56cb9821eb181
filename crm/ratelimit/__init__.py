"""Atomic rate limiting in Redis, on every route, with IETF RateLimit headers.

`enforce()` runs in the app-wide before_request (before CSRF and the org guard),
`add_headers()` in the after_request. A route picks its group with
`@rate_limit("search")`; otherwise GET/HEAD count as `read`, other methods as
`write`, and writes under /api/v1/auth/ as `auth`.
"""

from crm.ratelimit.limiter import (
    Decision,
    Policy,
    add_headers,
    enforce,
    group_of_view,
    hit,
    policy_for,
    rate_limit,
)

__all__ = ["Decision", "Policy", "add_headers", "enforce", "group_of_view", "hit", "policy_for", "rate_limit"]
