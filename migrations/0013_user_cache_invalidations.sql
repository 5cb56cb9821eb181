-- A user's own cached views (GET /me, under tc:{u:<user>}:gen:me) have generations too:
-- their invalidations go through the same outbox, with user_id in place of org_id.
ALTER TABLE cache_invalidations ALTER COLUMN org_id DROP NOT NULL;
ALTER TABLE cache_invalidations ADD COLUMN user_id bigint;
ALTER TABLE cache_invalidations
    ADD CONSTRAINT cache_invalidations_one_owner CHECK ((org_id IS NULL) <> (user_id IS NULL));
