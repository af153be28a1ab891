-- The reminder's own skip/fail reason; reason stays the first email's.
ALTER TABLE review_requests ADD COLUMN reminder_reason text NOT NULL DEFAULT '';
