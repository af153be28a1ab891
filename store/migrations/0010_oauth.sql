-- Public-app installs (OAuth). Expiring offline tokens come with a refresh
-- token, sealed like the access token; a custom-app token (candor shops add)
-- has no expiry and no refresh token. scopes is what the merchant granted.
ALTER TABLE shops
    ADD COLUMN access_token_expires_at  timestamptz,
    ADD COLUMN refresh_token_sealed     text NOT NULL DEFAULT '',
    ADD COLUMN refresh_token_expires_at timestamptz,
    ADD COLUMN scopes                   text NOT NULL DEFAULT '',
    ADD COLUMN installed_at             timestamptz;

-- OAuth state nonces, single use: the callback deletes the row it matches.
-- Only hashes are kept: of the nonce, and of the browser-binding cookie.
CREATE TABLE oauth_states (
    nonce_hash   bytea PRIMARY KEY,
    shop         text NOT NULL,
    browser_hash bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);
