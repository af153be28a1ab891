-- Every shop's email now goes out from Candor's own sender (CANDOR_MAIL_FROM,
-- on the domain authenticated in the shared SendGrid account), with the
-- shop's name as the display name and its Shopify contact address as the
-- Reply-To, both read just in time. A per-shop From address would let any
-- shop send as any address the account is verified for.
ALTER TABLE shops DROP COLUMN sender;
