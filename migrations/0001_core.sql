-- Core schema: users, orgs, memberships, the CRM records, the event outbox.
-- Tenant tables carry org_id first in every index a tenant route uses, and
-- reference each other by (org_id, id) so a row can never point into another org.

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash   text,
    email_verified_at timestamptz,
    totp_secret     text,
    totp_enabled_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Durable copy of the session registry; Redis (tc:sess:{id}) is the fast path.
CREATE TABLE user_sessions (
    id              text PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    ip              text,
    user_agent      text,
    revoked_at      timestamptz
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE orgs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency        char(3) NOT NULL DEFAULT 'USD',
    require_2fa     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1
);

-- Per-org counters kept by the same transaction as the change: the event sequence
-- (its row lock also makes seq order equal commit order) and dashboard rollups.
CREATE TABLE org_counters (
    org_id          bigint PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    event_seq       bigint NOT NULL DEFAULT 0,
    contacts        bigint NOT NULL DEFAULT 0,
    companies       bigint NOT NULL DEFAULT 0
);

CREATE TABLE memberships (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE companies (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name            text NOT NULL,
    domain          text,
    phone           text,
    address         text,
    owner_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    search          tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(domain, ''))
    ) STORED,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES memberships (org_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX companies_org_name_idx ON companies (org_id, lower(name) text_pattern_ops, id);
CREATE INDEX companies_org_updated_idx ON companies (org_id, updated_at, id);
CREATE INDEX companies_org_owner_idx ON companies (org_id, owner_id, id);
CREATE INDEX companies_search_idx ON companies USING gin (search);

CREATE TABLE contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    first_name      text NOT NULL DEFAULT '',
    last_name       text NOT NULL DEFAULT '',
    email           text,
    phone           text,
    title           text,
    company_id      bigint,
    owner_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    search          tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
            || coalesce(email, '') || ' ' || coalesce(title, ''))
    ) STORED,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, company_id) REFERENCES companies (org_id, id) ON DELETE SET NULL (company_id),
    FOREIGN KEY (org_id, owner_id) REFERENCES memberships (org_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX contacts_org_last_name_idx ON contacts (org_id, lower(last_name) text_pattern_ops, id);
CREATE INDEX contacts_org_email_idx ON contacts (org_id, lower(email) text_pattern_ops, id);
CREATE INDEX contacts_org_updated_idx ON contacts (org_id, updated_at, id);
CREATE INDEX contacts_org_company_idx ON contacts (org_id, company_id, id);
CREATE INDEX contacts_org_owner_idx ON contacts (org_id, owner_id, id);
CREATE INDEX contacts_search_idx ON contacts USING gin (search);

CREATE TABLE pipeline_stages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position        integer NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (org_id, id)
);
CREATE INDEX pipeline_stages_org_idx ON pipeline_stages (org_id, position);

CREATE TABLE deals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    title           text NOT NULL,
    amount          bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
    currency        char(3) NOT NULL DEFAULT 'USD',
    stage_id        bigint NOT NULL,
    position        text COLLATE "C" NOT NULL,
    owner_id        bigint,
    contact_id      bigint,
    company_id      bigint,
    expected_close_date date,
    probability     smallint CHECK (probability BETWEEN 0 AND 100),
    won_at          timestamptz,
    lost_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    search          tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(title, ''))) STORED,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, stage_id) REFERENCES pipeline_stages (org_id, id),
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id),
    FOREIGN KEY (org_id, company_id) REFERENCES companies (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES memberships (org_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX deals_org_stage_position_idx ON deals (org_id, stage_id, position);
CREATE INDEX deals_org_title_idx ON deals (org_id, lower(title) text_pattern_ops, id);
CREATE INDEX deals_org_updated_idx ON deals (org_id, updated_at, id);
CREATE INDEX deals_org_owner_idx ON deals (org_id, owner_id, id);
CREATE INDEX deals_org_company_idx ON deals (org_id, company_id, id);
CREATE INDEX deals_org_contact_idx ON deals (org_id, contact_id, id);
CREATE INDEX deals_org_close_idx ON deals (org_id, expected_close_date)
    WHERE won_at IS NULL AND lost_at IS NULL;
CREATE INDEX deals_org_won_idx ON deals (org_id, won_at) INCLUDE (amount) WHERE won_at IS NOT NULL;
CREATE INDEX deals_org_lost_idx ON deals (org_id, lost_at) WHERE lost_at IS NOT NULL;
CREATE INDEX deals_search_idx ON deals USING gin (search);

CREATE TABLE activities (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    type            text NOT NULL CHECK (type IN ('call', 'email', 'meeting', 'note', 'task')),
    subject         text NOT NULL,
    body            text NOT NULL DEFAULT '',
    due_at          timestamptz,
    done            boolean NOT NULL DEFAULT false,
    done_at         timestamptz,
    deal_id         bigint,
    contact_id      bigint,
    company_id      bigint,
    owner_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, deal_id) REFERENCES deals (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, company_id) REFERENCES companies (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, owner_id) REFERENCES memberships (org_id, user_id) ON DELETE SET NULL (owner_id)
);
CREATE INDEX activities_org_due_idx ON activities (org_id, due_at, id) WHERE NOT done;
CREATE INDEX activities_org_updated_idx ON activities (org_id, updated_at, id);
CREATE INDEX activities_org_deal_idx ON activities (org_id, deal_id, id);
CREATE INDEX activities_org_contact_idx ON activities (org_id, contact_id, id);
CREATE INDEX activities_org_company_idx ON activities (org_id, company_id, id);
CREATE INDEX activities_org_owner_idx ON activities (org_id, owner_id, id);

-- The outbox: one row per event, written in the transaction of the change.
CREATE TABLE events (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    id              uuid NOT NULL,
    type            text NOT NULL,
    actor_id        bigint,
    audience        jsonb NOT NULL DEFAULT '{"scope": "org"}',
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX events_unpublished_idx ON events (created_at) WHERE published_at IS NULL;
CREATE INDEX events_created_idx ON events (created_at);

-- Dashboard rollups, kept by triggers in the writing transaction so that stats
-- stay cheap at millions of deals.
CREATE TABLE deal_stage_totals (
    org_id          bigint NOT NULL,
    stage_id        bigint NOT NULL,
    count           bigint NOT NULL DEFAULT 0,
    value           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, stage_id),
    FOREIGN KEY (org_id, stage_id) REFERENCES pipeline_stages (org_id, id) ON DELETE CASCADE
);

CREATE FUNCTION deals_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE deal_stage_totals SET count = count - 1, value = value - OLD.amount
         WHERE org_id = OLD.org_id AND stage_id = OLD.stage_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO deal_stage_totals (org_id, stage_id, count, value)
        VALUES (NEW.org_id, NEW.stage_id, 1, NEW.amount)
        ON CONFLICT (org_id, stage_id) DO UPDATE
           SET count = deal_stage_totals.count + 1, value = deal_stage_totals.value + EXCLUDED.value;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deals_rollup AFTER INSERT OR DELETE OR UPDATE OF stage_id, amount ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_rollup();

CREATE FUNCTION record_count_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE delta integer := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END;
DECLARE row_org bigint := CASE WHEN TG_OP = 'INSERT' THEN NEW.org_id ELSE OLD.org_id END;
BEGIN
    IF TG_TABLE_NAME = 'contacts' THEN
        UPDATE org_counters SET contacts = contacts + delta WHERE org_id = row_org;
    ELSE
        UPDATE org_counters SET companies = companies + delta WHERE org_id = row_org;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER contacts_count AFTER INSERT OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION record_count_rollup();
CREATE TRIGGER companies_count AFTER INSERT OR DELETE ON companies
    FOR EACH ROW EXECUTE FUNCTION record_count_rollup();
