-- The keys that rotate on their own (keys/rotating.go): the login-link key
-- and the registry signing key. Each rotation adds a row of random material
-- sealed under the master key (bound to its purpose); the newest row of a
-- purpose is the key in use. Older rows stay: an old signing key's public
-- half names what it signed. With no row, the key is the one the identity
-- derives (an installation that never rotated).
CREATE TABLE rotating_keys (
    id         text PRIMARY KEY,
    purpose    text NOT NULL CHECK (purpose IN ('login-link', 'registry-signing')),
    sealed     text NOT NULL,
    public_key text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rotating_keys_purpose_created_at ON rotating_keys (purpose, created_at DESC);
