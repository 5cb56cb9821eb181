"""Real uvicorn instances for chat's socket tests: the realtime tests' two-instance fixtures."""

from tests.realtime.conftest import alice, bob, http, instances, org, realtime_env  # noqa: F401
