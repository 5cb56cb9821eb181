"""Outgoing mail: SMTP when SMTP_URL is set, else the log plus the dev mailbox."""
