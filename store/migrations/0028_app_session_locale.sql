-- The language a merchant session's pages are written in: the admin user's
-- locale Shopify passed on the embedded app load, matched to one of
-- Candor's languages (locale.Supported). Empty: the browser's
-- Accept-Language decides on each request.
ALTER TABLE app_sessions ADD COLUMN locale text NOT NULL DEFAULT '';
