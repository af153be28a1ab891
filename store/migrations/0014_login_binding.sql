-- Merchant logins are bound to a person and a browser.
--
-- An App Bridge session token (id_token) is accepted once: its jti is kept
-- until the token expires, in Postgres so that every serve replica refuses a
-- replay. A jti is Shopify's random token ID, nothing personal.
CREATE TABLE app_session_tokens_used (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX app_session_tokens_used_expires_at ON app_session_tokens_used (expires_at);

-- An app load from the Shopify admin signs the merchant in through OAuth in
-- online (per-user) access mode; its state says so, and the callback then
-- starts a session instead of installing.
ALTER TABLE oauth_states ADD COLUMN online boolean NOT NULL DEFAULT false;
