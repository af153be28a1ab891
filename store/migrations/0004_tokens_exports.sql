-- API tokens: only the SHA-256 of the token is stored.
CREATE TABLE api_tokens (
    id           text PRIMARY KEY,
    token_sha256 text NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('auditor', 'merchant', 'operator')),
    shop         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CHECK ((role = 'merchant') = (shop <> ''))
);

-- Signed manifests of registry exports made through the API, so the
-- signature can be fetched after the download.
CREATE TABLE registry_exports (
    export_id  text PRIMARY KEY,
    token_id   text NOT NULL,
    signed     jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
