-- The worker prunes sessions that ended long ago (their refresh tokens go with them).
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);
CREATE INDEX user_sessions_revoked_idx ON user_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
