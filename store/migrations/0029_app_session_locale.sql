-- The language a merchant session's pages are written in: the admin user's
-- locale Shopify passed on the embedded app load, matched to one of
-- Candor's languages (locale.Supported). Empty: the browser's
-- Accept-Language decides on each request.
ALTER TABLE app_sessions ADD COLUMN locale text NOT NULL DEFAULT '';
-- Whether the session began with an embedded load in the Shopify admin: its
-- pages load App Bridge, which a page at the top level must not (App Bridge
-- sends a top-level window to the admin).
ALTER TABLE app_sessions ADD COLUMN embedded boolean NOT NULL DEFAULT false;
