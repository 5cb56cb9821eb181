-- Org-scoped full-text keys for search and the lists' q= filters.
--
-- A GIN index cannot lead with org_id (that needs btree_gin, which the embedded
-- PostgreSQL lacks), so a word common in every org cost its matches in all of
-- them. Each kind now stores `search_key`: the lexemes of its document with the
-- org id in front ('42:chen'), so that a query built by tenant_tsquery (same org)
-- reads only that org's part of the index. The `search` columns stay for ts_rank.

-- The org's lexemes of `doc`, without positions (matching only; rank on the document).
-- A lexeme too long to carry the prefix (over 2047 bytes with it) is left out.
CREATE FUNCTION tenant_tsvector(org bigint, doc tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN array_to_tsvector(ARRAY(
        SELECT org::text || ':' || lexeme FROM unnest(doc)
         WHERE octet_length(lexeme) < 2047 - octet_length(org::text)
    ));

-- `query` with every lexeme prefixed like tenant_tsvector's ('a':* & 'b' -> '42:a':* & '42:b').
-- Works on the query's text form, where each lexeme is quoted and inner quotes are doubled.
CREATE FUNCTION tenant_tsquery(org bigint, query tsquery) RETURNS tsquery
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CAST(regexp_replace(CAST(query AS text), '''((?:[^'']|'''')*)''', '''' || org::text || ':\1''', 'g')
        AS tsquery);

-- Contacts: names, title, the whole email and its domain. The email's local part is not
-- a word of its own: any prefix of it is a prefix of the whole address, and one distinct
-- lexeme per contact is what made a first-name prefix like 'ada':* walk thousands of entries.
ALTER TABLE contacts ADD COLUMN search_key tsvector GENERATED ALWAYS AS (
    tenant_tsvector(org_id, to_tsvector('simple', coalesce(first_name, '') || ' ' || coalesce(last_name, '')
        || ' ' || coalesce(email, '') || ' ' || coalesce(split_part(email, '@', 2), '') || ' ' || coalesce(title, '')))
) STORED;
ALTER TABLE companies ADD COLUMN search_key tsvector GENERATED ALWAYS AS (
    tenant_tsvector(org_id, to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(domain, '')))
) STORED;
ALTER TABLE deals ADD COLUMN search_key tsvector GENERATED ALWAYS AS (
    tenant_tsvector(org_id, to_tsvector('simple', coalesce(title, '')))
) STORED;
-- Activities get the stored document the other kinds have, for ranking candidates.
ALTER TABLE activities ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', subject)) STORED;
ALTER TABLE activities ADD COLUMN search_key tsvector GENERATED ALWAYS AS (
    tenant_tsvector(org_id, to_tsvector('simple', subject))
) STORED;

-- Without the pending list (fastupdate) a write updates the index at once: a search never
-- scans a list of recent, unmerged entries first, and its plan's cost does not swell with it.
CREATE INDEX contacts_search_key_idx ON contacts USING gin (search_key) WITH (fastupdate = off);
CREATE INDEX companies_search_key_idx ON companies USING gin (search_key) WITH (fastupdate = off);
CREATE INDEX deals_search_key_idx ON deals USING gin (search_key) WITH (fastupdate = off);
CREATE INDEX activities_search_key_idx ON activities USING gin (search_key) WITH (fastupdate = off);
DROP INDEX contacts_search_idx;
DROP INDEX companies_search_idx;
DROP INDEX deals_search_idx;
DROP INDEX activities_subject_search_idx;

-- Prefix matches that search reads in index order before it asks the full-text index:
-- a contact's full name ('ada ch' finds Ada Chen), a company's domain and an activity's subject.
CREATE INDEX contacts_org_full_name_idx ON contacts (org_id, lower(first_name || ' ' || last_name) text_pattern_ops, id);
CREATE INDEX activities_org_subject_idx ON activities (org_id, lower(subject) text_pattern_ops, id);
CREATE INDEX companies_org_domain_idx ON companies (org_id, lower(domain) text_pattern_ops, id);
