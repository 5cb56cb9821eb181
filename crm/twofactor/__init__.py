"""Two-factor sign-in: TOTP with single-use recovery codes, and the two-step login."""
