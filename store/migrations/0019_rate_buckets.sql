-- Budgets that every worker process shares (package pacing): one token
-- bucket per Shopify shop (its GraphQL query-cost points) and one for the
-- SendGrid account (its Mail Send calls). A call reserves its cost with
-- one UPDATE of its bucket's row, so any number of processes keep, between
-- them, to the rate Shopify or SendGrid allows. available may be negative:
-- reservations not yet covered, which their callers wait out.
CREATE TABLE rate_buckets (
    key       text PRIMARY KEY,
    available double precision NOT NULL,
    capacity  double precision NOT NULL CHECK (capacity > 0),
    rate      double precision NOT NULL CHECK (rate > 0),  -- per second
    at        timestamptz NOT NULL
);
