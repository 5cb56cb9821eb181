-- Contacts and companies: sort indexes for every list order (org_id first), and
-- the length rules of the API enforced by the database as well.

-- Name order in the database's collation (the text_pattern_ops indexes of 0001 serve prefix matches only).
CREATE INDEX companies_org_sort_name_idx ON companies (org_id, lower(name), id);
CREATE INDEX companies_org_created_idx ON companies (org_id, created_at, id);
CREATE INDEX contacts_org_sort_name_idx ON contacts (org_id, lower(last_name), lower(first_name), id);
CREATE INDEX contacts_org_created_idx ON contacts (org_id, created_at, id);

ALTER TABLE companies
    ADD CONSTRAINT companies_name_length CHECK (length(name) BETWEEN 1 AND 200),
    ADD CONSTRAINT companies_domain_length CHECK (length(domain) <= 253),
    ADD CONSTRAINT companies_phone_length CHECK (length(phone) <= 50),
    ADD CONSTRAINT companies_address_length CHECK (length(address) <= 1000);

ALTER TABLE contacts
    ADD CONSTRAINT contacts_has_name CHECK (first_name <> '' OR last_name <> ''),
    ADD CONSTRAINT contacts_first_name_length CHECK (length(first_name) <= 100),
    ADD CONSTRAINT contacts_last_name_length CHECK (length(last_name) <= 100),
    ADD CONSTRAINT contacts_email_length CHECK (length(email) <= 254),
    ADD CONSTRAINT contacts_phone_length CHECK (length(phone) <= 50),
    ADD CONSTRAINT contacts_title_length CHECK (length(title) <= 200);

-- Contact search also indexes the email's local part and domain as words of their own,
-- so that "grace" and "navy" find grace@navy.example (the whole address stays a lexeme too).
ALTER TABLE contacts DROP COLUMN search;
ALTER TABLE contacts ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
        || coalesce(email, '') || ' ' || coalesce(replace(email, '@', ' '), '') || ' ' || coalesce(title, ''))
) STORED;
CREATE INDEX contacts_search_idx ON contacts USING gin (search);
