-- Staff (operators, auditors) sign in through OpenID Connect.
--
-- A sign-in in progress: its state's SHA-256, with the nonce and PKCE
-- verifier the callback needs. The callback deletes the row as it reads it,
-- so a state works once, on any serve replica.
CREATE TABLE staff_sign_ins (
    state_sha256 text PRIMARY KEY,
    nonce        text NOT NULL,
    verifier     text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX staff_sign_ins_expires_at ON staff_sign_ins (expires_at);

-- Staff sessions: only a SHA-256 of the cookie's random token is kept.
-- principal is a pseudonym of the provider's subject (staff.Identity), amr
-- the methods the provider stated; nothing names the person.
CREATE TABLE staff_sessions (
    token_sha256 text PRIMARY KEY,
    principal    text NOT NULL,
    role         text NOT NULL,
    amr          text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX staff_sessions_expires_at ON staff_sessions (expires_at);
