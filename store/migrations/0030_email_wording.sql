-- A shop's own wording of the review email, per language (locale.Supported):
-- the subject, the opening line and the button text, as plain text. ''
-- means the text Candor ships for that language. The English subject keeps
-- its one home, shops.subject_template (Settings.Subject), so it has no
-- copy here.
CREATE TABLE email_wording (
    shop       text NOT NULL REFERENCES shops (domain) ON DELETE CASCADE,
    lang       text NOT NULL,
    subject    text NOT NULL DEFAULT '',
    opening    text NOT NULL DEFAULT '',
    button     text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, lang),
    CHECK (lang <> 'en' OR subject = '')
);
