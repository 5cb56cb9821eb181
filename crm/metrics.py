"""Prometheus metrics and the `/metrics` route (text exposition format).

Set METRICS_TOKEN to require `Authorization: Bearer <token>` on `/metrics`;
otherwise keep the route off the public internet at the proxy (docs/redis.md).
"""

from __future__ import annotations

import hmac
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from quart import Quart, Response, request

CACHE_LOOKUPS = Counter(
    "tinycrm_cache_lookups_total",
    "Cached reads by view kind and result (hit, miss, bypass: served from PostgreSQL without the cache).",
    ["kind", "result"],
)
CACHE_ERRORS = Counter(
    "tinycrm_cache_errors_total",
    "Cache operations that failed or were skipped because Redis was unavailable.",
    ["op"],
)
CACHE_LATENCY = Histogram(
    "tinycrm_cache_latency_seconds",
    "Latency of cache round trips to Redis.",
    ["op"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
CACHE_COMPUTE = Histogram(
    "tinycrm_cache_compute_seconds",
    "Time to compute a cache miss from PostgreSQL, by view kind.",
    ["kind"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CACHE_BUMPS = Counter(
    "tinycrm_cache_generation_bumps_total",
    "Generation bumps after commit, by result (ok, deferred: Redis unreachable, retried later).",
    ["result"],
)
CACHE_SINGLE_FLIGHT = Counter(
    "tinycrm_cache_single_flight_total",
    "Misses that waited for another request's computation, by outcome (filled, gave_up).",
    ["outcome"],
)
CACHE_INVALIDATIONS_SWEPT = Counter(
    "tinycrm_cache_invalidations_swept_total",
    "Committed invalidations whose writer never acknowledged its bump (it died, or could not reach"
    " Redis), applied by the outbox relay.",
)
CACHE_DIRTY = Gauge(
    "tinycrm_cache_dirty_domains",
    "Org domains whose generation bump is pending in this process (their views bypass the cache).",
)


def init_app(app: Quart) -> None:
    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics of this process."""
        token = os.environ.get("METRICS_TOKEN", "")
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response("unauthorized\n", status=401, content_type="text/plain")
        return Response(generate_latest(REGISTRY), status=200, content_type=CONTENT_TYPE_LATEST)
