from tests.auth.conftest import rds

__all__ = ["rds"]
