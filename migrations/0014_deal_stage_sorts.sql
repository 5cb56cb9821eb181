-- A stage's deals in every list order (`?stage=` with each sort): one range of an
-- (org_id, stage_id, key, id) index, where the org-wide index read the whole org's
-- order and dropped the other stages' deals (five of six), or, where the planner
-- chose it, read the whole stage and sorted it.
CREATE INDEX deals_org_stage_created_idx ON deals (org_id, stage_id, created_at, id);
CREATE INDEX deals_org_stage_amount_idx ON deals (org_id, stage_id, amount, id);
CREATE INDEX deals_org_stage_close_sort_idx
    ON deals (org_id, stage_id, (COALESCE(expected_close_date, DATE '9999-01-01')), id);
CREATE INDEX deals_org_stage_title_sort_idx ON deals (org_id, stage_id, lower(title), id);
