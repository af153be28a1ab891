-- API tokens that can be reviewed (issue 13): a name saying whose token it
-- is, an expiry, and the token that replaced it on rotation. Tokens made
-- before this migration get a placeholder name and 90 days from now, so
-- none stops working at once and every one shows up in the access review.
ALTER TABLE api_tokens
    ADD COLUMN name       text NOT NULL DEFAULT '',
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN rotated_to text NOT NULL DEFAULT '';
UPDATE api_tokens SET name = 'unnamed (made before names)' WHERE name = '';
UPDATE api_tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens
    ALTER COLUMN expires_at SET NOT NULL,
    ALTER COLUMN name DROP DEFAULT,
    ADD CONSTRAINT api_tokens_name CHECK (name <> '' AND length(name) <= 100);
