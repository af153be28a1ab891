-- One hash chain per shop instead of one for everything: a shop's export is
-- then a whole chain that verifies on its own, which a merchant (who sees
-- only their shop) needs, and shops no longer wait on each other's appends.
--
-- Entries written under the single chain are kept, read-only, as
-- registry_entries_v0; the new chains start at the genesis hash.
ALTER TABLE registry_entries RENAME TO registry_entries_v0;
ALTER INDEX registry_entries_shop_subject RENAME TO registry_entries_v0_shop_subject;
ALTER INDEX registry_entries_ref RENAME TO registry_entries_v0_ref;
DROP TABLE registry_head;

CREATE TABLE registry_entries (
    seq         bigserial PRIMARY KEY,          -- global order of appends
    shop_seq    bigint NOT NULL,                -- position in the shop's chain, from 1
    at          timestamptz NOT NULL,
    shop        text NOT NULL,
    subject     text NOT NULL,
    datum       text NOT NULL,
    system      text NOT NULL,
    action      text NOT NULL,
    purpose     text NOT NULL,
    legal_basis text NOT NULL,
    expires_at  timestamptz NOT NULL,
    ref         text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    UNIQUE (shop, shop_seq)
);
CREATE INDEX registry_entries_shop_subject ON registry_entries (shop, subject);
CREATE INDEX registry_entries_ref ON registry_entries (ref);
CREATE INDEX registry_entries_at ON registry_entries (at);
CREATE TRIGGER registry_entries_no_update BEFORE UPDATE OR DELETE ON registry_entries
    FOR EACH ROW EXECUTE FUNCTION registry_entries_immutable();

-- The head of each shop's chain. Appends lock their shop's row.
CREATE TABLE registry_heads (
    shop text PRIMARY KEY,
    seq  bigint NOT NULL,
    hash text NOT NULL
);
