-- A review request's data key, once destroyed, is never made again. Its
-- owner ID (rq_…) is derived from shop and order, so without a record of the
-- destruction the next payload of a workflow still running (or a late
-- webhook for the order) would silently get a fresh key, and new data about
-- an erased or swept request would be written under it. datakeys.Keys.For
-- refuses an owner listed here (datakeys.ErrShredded).
--
-- Filled by a trigger, so every way a key goes counts: an erasure's Shred or
-- ShredShop, and a request row deleted by the retention sweep (whose own
-- trigger, 0006, deletes the key). Only request keys: a subject's key is made
-- again, on purpose, by a later customers/redact of the same customer.
-- Holds no personal data: the shop, the opaque request ID and the key ID.
CREATE TABLE shredded_data_keys (
    shop        text NOT NULL,
    owner       text NOT NULL,             -- rq_…
    id          text NOT NULL,             -- the destroyed key's dk_…
    shredded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, owner)
);

CREATE FUNCTION remember_shredded_request_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO shredded_data_keys (shop, owner, id)
    SELECT shop, owner, id FROM gone WHERE owner LIKE 'rq\_%'
    ON CONFLICT (shop, owner) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER data_keys_remember_shredded AFTER DELETE ON data_keys
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION remember_shredded_request_keys();
