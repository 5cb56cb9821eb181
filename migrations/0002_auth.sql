-- Auth state that must survive a Redis restart: refresh tokens, invitations,
-- OpenID Connect identities, and the idle timeout of each session.

-- Sessions slide on use up to their absolute lifetime (expires_at).
ALTER TABLE user_sessions ADD COLUMN idle_ttl integer NOT NULL DEFAULT 1209600 CHECK (idle_ttl > 0);

-- Durable copy of tc:rt:{hash}; the token itself is never stored, only its SHA-256.
CREATE TABLE refresh_tokens (
    hash            text PRIMARY KEY CHECK (length(hash) = 64),
    session_id      text NOT NULL REFERENCES user_sessions (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE invitations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash      text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    invited_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    revoked_at      timestamptz,
    UNIQUE (org_id, id)
);
CREATE INDEX invitations_org_pending_idx ON invitations (org_id, id)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_org_email_idx ON invitations (org_id, lower(email));

-- Sign-in through an OpenID Connect provider: one row per (issuer, subject).
CREATE TABLE oauth_identities (
    issuer          text NOT NULL,
    subject         text NOT NULL,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oauth_identities_user_idx ON oauth_identities (user_id);
