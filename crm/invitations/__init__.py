"""Invitations to an org by email: a single-use link, 7 days."""
