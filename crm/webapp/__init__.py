"""Browser pages for chat, the inbox, settings, the account and the sign-in flows around email links."""
