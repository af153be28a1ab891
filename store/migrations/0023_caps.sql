-- Caps per customer (store.Settings): at most cap_max_emails review emails
-- in 30 days (0: no cap), each product asked about at most once in 12
-- months, at most cap_max_products products per email. Existing shops get
-- the defaults. The caps read the customer's earlier requests by pseudonym
-- (review_requests.subject): no new personal data is kept for them.
ALTER TABLE shops
    ADD COLUMN cap_max_emails   integer NOT NULL DEFAULT 3 CHECK (cap_max_emails BETWEEN 0 AND 50),
    ADD COLUMN cap_product_once boolean NOT NULL DEFAULT true,
    ADD COLUMN cap_max_products integer NOT NULL DEFAULT 5 CHECK (cap_max_products BETWEEN 1 AND 10);

CREATE INDEX review_requests_shop_subject_sent ON review_requests (shop, subject, sent_at) WHERE subject <> '';
