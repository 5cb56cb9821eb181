"""Org API keys: `tck_<prefix>_<secret>`, stored as SHA-256, scoped to one org and a role."""
