-- The dashboard's "overdue" and "due today" counts from a rollup by due day.
--
-- Counting overdue activities through activities_org_due_idx reads one index entry per
-- open activity that is past due, and that number only grows in a real org (tasks nobody
-- closes): 6k of them took 0.44 ms of the stats query's 0.6 ms at 1M deals. This table
-- keeps, per org and UTC day, the number of open (not done) activities due that day, in
-- the writing transaction. Then "due today" is one row, and "overdue" (due before now) is
-- the sum of the days before today (a row per day that ever had one) plus today's open
-- activities due before now (the index, bounded by one day's activities).

CREATE TABLE activity_due_days (
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    day         date NOT NULL,
    open_count  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
);

CREATE FUNCTION activities_due_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.org_id = NEW.org_id
       AND OLD.done = NEW.done
       AND OLD.due_at IS NOT DISTINCT FROM NEW.due_at THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND NOT OLD.done AND OLD.due_at IS NOT NULL THEN
        UPDATE activity_due_days SET open_count = open_count - 1
         WHERE org_id = OLD.org_id AND day = (OLD.due_at AT TIME ZONE 'UTC')::date;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NOT NEW.done AND NEW.due_at IS NOT NULL THEN
        INSERT INTO activity_due_days (org_id, day, open_count)
        VALUES (NEW.org_id, (NEW.due_at AT TIME ZONE 'UTC')::date, 1)
        ON CONFLICT (org_id, day) DO UPDATE SET open_count = activity_due_days.open_count + 1;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER activities_due_rollup
    AFTER INSERT OR DELETE OR UPDATE OF org_id, done, due_at ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_due_rollup();

-- Rebuild one org's rollup from its activities (bulk loaders that skip row triggers call this).
CREATE FUNCTION recompute_activity_due_days(org bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM activity_due_days WHERE org_id = org;
    INSERT INTO activity_due_days (org_id, day, open_count)
    SELECT org, (due_at AT TIME ZONE 'UTC')::date, count(*)
      FROM activities
     WHERE org_id = org AND NOT done AND due_at IS NOT NULL
     GROUP BY 1, 2;
$$;

SELECT recompute_activity_due_days(id) FROM orgs;
