-- Crypto-shredding. Each review request (rq_…) and each data subject
-- (sub_…) that Candor must keep something personal about gets its own random
-- data key; Temporal payloads and sealed personal data are encrypted with it.
-- The key is stored only wrapped (sealed under the master key's KEK, whose
-- key ID it names), and erasure deletes the row: every copy of what it
-- encrypted, in a backup or a leftover workflow history, becomes unreadable.
CREATE TABLE data_keys (
    id         text PRIMARY KEY,          -- dk_…, named in everything it encrypts
    shop       text NOT NULL,             -- '' for the service key
    owner      text NOT NULL,             -- rq_…, sub_…, or 'service'
    wrapped    text NOT NULL,             -- v1.<master key ID>.<AES-GCM of the key>
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (shop, owner)
);

-- The identity keys (pseudonyms, request IDs, link tokens, registry
-- signing), sealed under the current master key, so that they survive a
-- master-key rotation unchanged. One row.
CREATE TABLE key_identity (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    sealed     text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A request's data key dies with its row, whoever deletes it (the retention
-- sweep, an erasure, a cascade from the shop): nothing the key encrypted, in
-- Temporal or a backup, may outlive the record Candor keeps of the request.
-- One statement-level trigger, so a sweep's batch costs one extra DELETE.
CREATE FUNCTION shred_request_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM data_keys d USING gone g WHERE d.shop = g.shop AND d.owner = g.request_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER review_requests_shred_keys AFTER DELETE ON review_requests
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION shred_request_keys();
