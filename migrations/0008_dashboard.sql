-- Dashboard rollups by month and the activity-subject search index.
--
-- deal_month_totals keeps, per org and UTC calendar month, the deals won and lost
-- (by won_at / lost_at) and the open deals expected to close (by expected_close_date,
-- open meaning won_at and lost_at are both NULL). A trigger keeps it in the writing
-- transaction, so "won this month", "closing this month" and the won-over-time chart
-- read a handful of rows at any number of deals.

CREATE TABLE deal_month_totals (
    org_id          bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('won', 'lost', 'closing')),
    month           date NOT NULL,
    count           bigint NOT NULL DEFAULT 0,
    value           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, kind, month)
);

CREATE FUNCTION deal_month_adjust(org bigint, bucket text, at date, delta integer, amount bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF delta < 0 THEN
        UPDATE deal_month_totals SET count = count - 1, value = value - amount
         WHERE org_id = org AND kind = bucket AND month = at;
    ELSE
        INSERT INTO deal_month_totals (org_id, kind, month, count, value)
        VALUES (org, bucket, at, 1, amount)
        ON CONFLICT (org_id, kind, month) DO UPDATE
           SET count = deal_month_totals.count + 1, value = deal_month_totals.value + EXCLUDED.value;
    END IF;
END $$;

CREATE FUNCTION deals_month_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.won_at IS NOT DISTINCT FROM NEW.won_at
       AND OLD.lost_at IS NOT DISTINCT FROM NEW.lost_at
       AND OLD.expected_close_date IS NOT DISTINCT FROM NEW.expected_close_date
       AND OLD.amount = NEW.amount THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.won_at IS NOT NULL THEN
            PERFORM deal_month_adjust(OLD.org_id, 'won',
                date_trunc('month', OLD.won_at AT TIME ZONE 'UTC')::date, -1, OLD.amount);
        END IF;
        IF OLD.lost_at IS NOT NULL THEN
            PERFORM deal_month_adjust(OLD.org_id, 'lost',
                date_trunc('month', OLD.lost_at AT TIME ZONE 'UTC')::date, -1, OLD.amount);
        END IF;
        IF OLD.won_at IS NULL AND OLD.lost_at IS NULL AND OLD.expected_close_date IS NOT NULL THEN
            PERFORM deal_month_adjust(OLD.org_id, 'closing',
                date_trunc('month', OLD.expected_close_date)::date, -1, OLD.amount);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NEW.won_at IS NOT NULL THEN
            PERFORM deal_month_adjust(NEW.org_id, 'won',
                date_trunc('month', NEW.won_at AT TIME ZONE 'UTC')::date, 1, NEW.amount);
        END IF;
        IF NEW.lost_at IS NOT NULL THEN
            PERFORM deal_month_adjust(NEW.org_id, 'lost',
                date_trunc('month', NEW.lost_at AT TIME ZONE 'UTC')::date, 1, NEW.amount);
        END IF;
        IF NEW.won_at IS NULL AND NEW.lost_at IS NULL AND NEW.expected_close_date IS NOT NULL THEN
            PERFORM deal_month_adjust(NEW.org_id, 'closing',
                date_trunc('month', NEW.expected_close_date)::date, 1, NEW.amount);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deals_month_rollup
    AFTER INSERT OR DELETE OR UPDATE OF won_at, lost_at, expected_close_date, amount ON deals
    FOR EACH ROW EXECUTE FUNCTION deals_month_rollup();

-- Rebuild one org's month rollup from its deals (bulk loaders that skip row triggers call this).
CREATE FUNCTION recompute_deal_month_totals(org bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM deal_month_totals WHERE org_id = org;
    INSERT INTO deal_month_totals (org_id, kind, month, count, value)
    SELECT org, kind, month, count(*), coalesce(sum(amount), 0)
      FROM (
            SELECT 'won' AS kind, date_trunc('month', won_at AT TIME ZONE 'UTC')::date AS month, amount
              FROM deals WHERE org_id = org AND won_at IS NOT NULL
            UNION ALL
            SELECT 'lost', date_trunc('month', lost_at AT TIME ZONE 'UTC')::date, amount
              FROM deals WHERE org_id = org AND lost_at IS NOT NULL
            UNION ALL
            SELECT 'closing', date_trunc('month', expected_close_date)::date, amount
              FROM deals WHERE org_id = org AND won_at IS NULL AND lost_at IS NULL
               AND expected_close_date IS NOT NULL
           ) AS contributions
     GROUP BY kind, month;
$$;

SELECT recompute_deal_month_totals(id) FROM orgs;

-- Search over activity subjects (no stored column: an expression index is enough).
CREATE INDEX activities_subject_search_idx ON activities USING gin (to_tsvector('simple', subject));
