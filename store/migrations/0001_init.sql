-- Shops connected to Candor. The Admin API token is sealed (AES-GCM, key ID
-- prefixed); settings hold no customer data. The domain's CHECK is
-- shopify.ShopDomainPattern (integrations/shopify/webhook.go), copied
-- verbatim; TestShopDomainCheck_IsShopifysPattern holds the two equal.
CREATE TABLE shops (
    domain                 text PRIMARY KEY CHECK (domain ~ '^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$'),
    access_token_sealed    text NOT NULL,
    delay_seconds          bigint NOT NULL DEFAULT 432000 CHECK (delay_seconds >= 0),
    fallback_delay_seconds bigint NOT NULL DEFAULT 1209600 CHECK (fallback_delay_seconds >= 0),
    reminder_seconds       bigint NOT NULL DEFAULT 0 CHECK (reminder_seconds >= 0),
    consent_required       boolean NOT NULL DEFAULT true,
    review_url_template    text NOT NULL,
    sender                 text NOT NULL,
    subject_template       text NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Shopify webhook deliveries already handed off, for dedupe by
-- X-Shopify-Webhook-Id. No body is kept.
CREATE TABLE webhook_deliveries (
    webhook_id  text PRIMARY KEY,
    shop        text NOT NULL,
    topic       text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_received_at ON webhook_deliveries (received_at);

-- One review request per order. request_id is opaque (keyed hash); subject is
-- the customer's pseudonym once the send activity has learnt it.
CREATE TABLE review_requests (
    request_id       text PRIMARY KEY,
    shop             text NOT NULL REFERENCES shops (domain) ON DELETE CASCADE,
    order_id         bigint NOT NULL,
    order_name       text NOT NULL,
    products         jsonb NOT NULL,
    subject          text NOT NULL DEFAULT '',
    status           text NOT NULL CHECK (status IN ('scheduled', 'sending', 'sent', 'skipped', 'failed')),
    reason           text NOT NULL DEFAULT '',
    reminder_status  text NOT NULL DEFAULT '' CHECK (reminder_status IN ('', 'sending', 'sent', 'skipped', 'failed')),
    sent_at          timestamptz,
    reminder_sent_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    UNIQUE (shop, order_id)
);
CREATE INDEX review_requests_expires_at ON review_requests (expires_at);
CREATE INDEX review_requests_subject ON review_requests (shop, subject) WHERE subject <> '';

-- Customers who must not be emailed again, by pseudonym only.
CREATE TABLE suppressions (
    shop       text NOT NULL REFERENCES shops (domain) ON DELETE CASCADE,
    subject    text NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, subject)
);

-- The data-flow registry: one row per touch of customer data, append-only and
-- hash-chained. registry_head holds the chain head and serialises appends.
CREATE TABLE registry_entries (
    seq         bigint PRIMARY KEY,
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
    hash        text NOT NULL UNIQUE
);
CREATE INDEX registry_entries_shop_subject ON registry_entries (shop, subject);
CREATE INDEX registry_entries_ref ON registry_entries (ref);

CREATE TABLE registry_head (
    id   int PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO registry_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));

-- Append-only, enforced by the database as well as the code.
CREATE FUNCTION registry_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'registry entries are append-only';
END $$;
CREATE TRIGGER registry_entries_no_update BEFORE UPDATE OR DELETE ON registry_entries
    FOR EACH ROW EXECUTE FUNCTION registry_entries_immutable();
