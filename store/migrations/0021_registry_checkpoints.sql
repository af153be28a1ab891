-- Signed checkpoints of the registry's chain heads (issue 13, item 5),
-- made on a schedule. Once published (the endpoint, a file), an entry
-- changed or removed before a checkpoint no longer leads to the hash it
-- signed, even for someone who can rewrite every table. Append-only.
CREATE TABLE registry_checkpoints (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL,
    checkpoint jsonb NOT NULL, -- registry.SignedCheckpoint
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_checkpoints_at ON registry_checkpoints (at);
CREATE TRIGGER registry_checkpoints_no_update BEFORE UPDATE OR DELETE ON registry_checkpoints
    FOR EACH ROW EXECUTE FUNCTION registry_entries_immutable();
