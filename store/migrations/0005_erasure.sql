-- Privacy requests from Shopify's mandatory compliance webhooks. One row per
-- delivery (the webhook ID dedupes), kept as evidence after the work is
-- done; what identified the person (order IDs, the sealed address) is
-- cleared when the request completes.
CREATE TABLE privacy_requests (
    id           text PRIMARY KEY,              -- pr_ + webhook ID hash
    kind         text NOT NULL CHECK (kind IN ('customer_redact', 'shop_redact', 'data_request', 'uninstall')),
    shop         text NOT NULL,
    subject      text NOT NULL DEFAULT '',      -- pseudonym, for customer requests
    order_ids    bigint[] NOT NULL DEFAULT '{}',
    email_sealed text NOT NULL DEFAULT '',      -- AES-GCM, only until SendGrid was asked
    status       text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'done')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX privacy_requests_subject ON privacy_requests (shop, subject);

-- Per system: what was asked and what was verified, and when.
CREATE TABLE privacy_receipts (
    request_id  text NOT NULL REFERENCES privacy_requests (id),
    system      text NOT NULL,
    asked       text NOT NULL,
    verified    text NOT NULL,
    asked_at    timestamptz NOT NULL,
    verified_at timestamptz NOT NULL,
    PRIMARY KEY (request_id, system)
);

-- Data-request reports for the merchant: what is held about a subject.
CREATE TABLE subject_reports (
    request_id text PRIMARY KEY REFERENCES privacy_requests (id),
    shop       text NOT NULL,
    subject    text NOT NULL,
    report     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
