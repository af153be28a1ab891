-- The access log (issue 13, item 3): who read personal data. Each row is
-- written in the transaction that appends the read's registry entry (same
-- shop and ref), before the data is returned; if it cannot be written, the
-- read is refused. Append-only, like the registry.
CREATE TABLE access_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    principal text NOT NULL CHECK (principal <> ''),
    what      text NOT NULL,
    shop      text NOT NULL,
    subject   text NOT NULL DEFAULT '',
    ref       text NOT NULL
);
CREATE INDEX access_log_at ON access_log (at);
CREATE INDEX access_log_principal_at ON access_log (principal, at);
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION registry_entries_immutable();
