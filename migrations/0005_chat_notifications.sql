-- Team chat (channels, members with read positions, messages) and the notification inbox.
-- Tenant references are composite (org_id, id) as in 0001; tenant indexes start with org_id.

CREATE TABLE chat_channels (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('public', 'private', 'dm', 'deal')),
    name            text CHECK (name IS NULL OR length(name) BETWEEN 1 AND 80),
    deal_id         bigint,
    -- the sorted member ids of a DM ("3,8,12"): one DM per member set
    dm_key          text,
    created_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    archived        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         integer NOT NULL DEFAULT 1,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, deal_id) REFERENCES deals (org_id, id) ON DELETE CASCADE,
    CHECK ((kind = 'deal') = (deal_id IS NOT NULL)),
    CHECK ((kind = 'dm') = (dm_key IS NOT NULL)),
    CHECK ((kind IN ('public', 'private')) = (name IS NOT NULL))
);
CREATE UNIQUE INDEX chat_channels_org_deal_key ON chat_channels (org_id, deal_id) WHERE deal_id IS NOT NULL;
CREATE UNIQUE INDEX chat_channels_org_dm_key ON chat_channels (org_id, dm_key) WHERE dm_key IS NOT NULL;
CREATE UNIQUE INDEX chat_channels_org_name_key ON chat_channels (org_id, lower(name)) WHERE name IS NOT NULL;
CREATE INDEX chat_channels_org_kind_idx ON chat_channels (org_id, kind, id);

-- Members of private channels and DMs (who may see them); for public and deal
-- channels a row means "participates" and holds the read position.
CREATE TABLE chat_members (
    org_id          bigint NOT NULL,
    channel_id      bigint NOT NULL,
    user_id         bigint NOT NULL,
    last_read_message_id bigint,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, channel_id, user_id),
    FOREIGN KEY (org_id, channel_id) REFERENCES chat_channels (org_id, id) ON DELETE CASCADE,
    -- leaving the org leaves its channels
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX chat_members_org_user_idx ON chat_members (org_id, user_id, channel_id);

CREATE TABLE chat_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    channel_id      bigint NOT NULL,
    -- users, not memberships: a departed member's messages keep their author
    author_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    body            text NOT NULL CHECK (length(body) <= 4000),
    client_id       text CHECK (client_id IS NULL OR length(client_id) BETWEEN 1 AND 100),
    mentions        bigint[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    edited_at       timestamptz,
    deleted_at      timestamptz,
    version         integer NOT NULL DEFAULT 1,
    search          tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    UNIQUE (org_id, id),
    -- a retried send (same author and client_id) finds the message it already made
    UNIQUE (org_id, author_id, client_id),
    FOREIGN KEY (org_id, channel_id) REFERENCES chat_channels (org_id, id) ON DELETE CASCADE
);
CREATE INDEX chat_messages_org_channel_idx ON chat_messages (org_id, channel_id, id);
CREATE INDEX chat_messages_search_idx ON chat_messages USING gin (search);

CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    -- users, not memberships: an invitation notifies someone not yet in the org
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('mention', 'deal_assigned', 'deal_won', 'invitation', 'activity_due')),
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    body            text NOT NULL DEFAULT '',
    data            jsonb NOT NULL DEFAULT '{}',
    read_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, id)
);
CREATE INDEX notifications_org_user_idx ON notifications (org_id, user_id, id);
CREATE INDEX notifications_org_user_unread_idx ON notifications (org_id, user_id, id) WHERE read_at IS NULL;
CREATE INDEX notifications_user_idx ON notifications (user_id, id);

-- Per member notification settings; no row means the defaults.
CREATE TABLE notification_prefs (
    org_id          bigint NOT NULL,
    user_id         bigint NOT NULL,
    notify_deal_won boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);

-- Activity due reminders: sent once per due time.
ALTER TABLE activities ADD COLUMN reminded_at timestamptz;
CREATE INDEX activities_due_unreminded_idx ON activities (due_at)
    WHERE NOT done AND reminded_at IS NULL AND owner_id IS NOT NULL AND due_at IS NOT NULL;

-- A new due time (or a new owner) deserves a new reminder.
CREATE FUNCTION activities_reset_reminder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.due_at IS DISTINCT FROM OLD.due_at OR NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        NEW.reminded_at := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER activities_reset_reminder BEFORE UPDATE OF due_at, owner_id ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_reset_reminder();
