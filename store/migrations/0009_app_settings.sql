-- Merchant pages (/app) and the settings they edit.
--
-- The send window is minutes after local midnight, [start, end); start = end
-- means any time, and end < start wraps past midnight. time_zone is an IANA
-- name; '' means the shop's own time zone, as Shopify reports it.
ALTER TABLE shops
    ADD COLUMN send_window_start    smallint NOT NULL DEFAULT 0 CHECK (send_window_start BETWEEN 0 AND 1439),
    ADD COLUMN send_window_end      smallint NOT NULL DEFAULT 0 CHECK (send_window_end BETWEEN 0 AND 1439),
    ADD COLUMN time_zone            text NOT NULL DEFAULT '',
    ADD COLUMN excluded_product_ids bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN excluded_tags        text[] NOT NULL DEFAULT '{}';

-- When the first email is planned to go, for the recent-requests page.
ALTER TABLE review_requests ADD COLUMN send_at timestamptz;

-- Merchant sessions: only a SHA-256 of the cookie's random token is kept.
CREATE TABLE app_sessions (
    token_hash text PRIMARY KEY,
    shop       text NOT NULL REFERENCES shops (domain) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX app_sessions_expires_at ON app_sessions (expires_at);

-- Login links are single-use: a used link's ID is kept until it expires.
CREATE TABLE app_login_links_used (
    link_id    text PRIMARY KEY,
    shop       text NOT NULL,
    expires_at timestamptz NOT NULL
);
