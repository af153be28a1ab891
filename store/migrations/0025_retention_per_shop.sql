-- Retention sweeps run per shop (issue 12): a receipt says which shop it is
-- about ('' for a policy swept across all shops, and for the sweep's
-- per-policy summary), and each shop's expired requests are found by shop.
ALTER TABLE retention_receipts ADD COLUMN shop text NOT NULL DEFAULT '';
ALTER TABLE retention_receipts DROP CONSTRAINT retention_receipts_pkey;
ALTER TABLE retention_receipts ADD PRIMARY KEY (run_id, policy, shop);
CREATE INDEX review_requests_shop_expires_at ON review_requests (shop, expires_at);
