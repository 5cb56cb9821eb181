-- Deals, pipeline and activities: the indexes their list sorts and filters use
-- (org_id first), and a unique order key per stage column.

-- A column never holds two cards with the same order key; moves are serialised
-- per target stage, so this only guards against a bug, never against a race.
CREATE UNIQUE INDEX deals_org_stage_position_key ON deals (org_id, stage_id, position);
DROP INDEX deals_org_stage_position_idx;

CREATE INDEX deals_org_created_idx ON deals (org_id, created_at, id);
CREATE INDEX deals_org_amount_idx ON deals (org_id, amount, id);
CREATE INDEX deals_org_close_sort_idx ON deals (org_id, (COALESCE(expected_close_date, DATE '9999-01-01')), id);
CREATE INDEX deals_org_title_sort_idx ON deals (org_id, lower(title), id);
CREATE INDEX deals_org_stage_updated_idx ON deals (org_id, stage_id, updated_at, id);

CREATE INDEX activities_org_due_sort_idx
    ON activities (org_id, (COALESCE(due_at, TIMESTAMPTZ '9999-01-01 00:00:00+00')), id);
CREATE INDEX activities_org_created_idx ON activities (org_id, created_at, id);
