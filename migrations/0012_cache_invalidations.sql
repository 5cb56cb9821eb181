-- The cache's outbox: a write transaction that invalidates cached views records here, in
-- the same transaction, which generations it changes (crm/cache/invalidations.py). The
-- writer deletes its row once its after-commit bump landed; the outbox relay bumps and
-- deletes rows nobody acknowledged (the writer died, or could not reach Redis).
-- Rows live for milliseconds, so there is nothing to prune and no index but the key. No
-- foreign key to orgs: it would cost a lookup and a row lock on every write, and a row of
-- a deleted org only bumps counters nobody reads.
CREATE TABLE cache_invalidations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL,
    domains         text[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
