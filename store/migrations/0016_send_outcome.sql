-- A send's outcome, reported truthfully, and objections that outlive a guest
-- checkout (issue 11, items 8 and 9).
--
-- sent_unconfirmed: the address went to SendGrid and SendGrid may have
-- accepted the mail, but Candor never saw its 202 (the worker died, or a
-- gateway answered 502/504). It is final: never retried into a second email.
ALTER TABLE review_requests DROP CONSTRAINT review_requests_status_check,
    ADD CONSTRAINT review_requests_status_check
        CHECK (status IN ('scheduled', 'sending', 'sent', 'sent_unconfirmed', 'skipped', 'failed'));
ALTER TABLE review_requests DROP CONSTRAINT review_requests_reminder_status_check,
    ADD CONSTRAINT review_requests_reminder_status_check
        CHECK (reminder_status IN ('', 'sending', 'sent', 'sent_unconfirmed', 'skipped', 'failed'));

-- SendGrid's X-Message-Id of each accepted email: it ties the request to
-- SendGrid's Event Webhook and email activity. Opaque; names nobody.
ALTER TABLE review_requests
    ADD COLUMN message_id          text NOT NULL DEFAULT '',
    ADD COLUMN reminder_message_id text NOT NULL DEFAULT '';

-- address_key is HMAC(pseudonym key, shop, normalised address) of the address
-- the request was sent to, computed at send time. Suppressions keyed by it
-- (subject = address_key) hold for every later order with that address,
-- guest checkouts included. Never the address itself.
ALTER TABLE review_requests ADD COLUMN address_key text NOT NULL DEFAULT '';
CREATE INDEX review_requests_address_key ON review_requests (shop, address_key) WHERE address_key <> '';

-- The address key of a customers/redact that carried an address, so the
-- erasure reaches guest sends to it after the sealed address is gone.
ALTER TABLE privacy_requests ADD COLUMN address_key text NOT NULL DEFAULT '';
