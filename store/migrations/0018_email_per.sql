-- When an order shipped in several parcels is asked about (store.EmailPer…):
-- one email for the whole order (the default, and what every shop did
-- before), or one per shipment. Existing shops keep the default.
ALTER TABLE shops
    ADD COLUMN email_per text NOT NULL DEFAULT 'order' CHECK (email_per IN ('order', 'shipment'));
