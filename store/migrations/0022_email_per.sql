-- When an order shipped in several parcels is asked about (store.EmailPer…):
-- one email for the whole order (the default, and what every shop did
-- before), or one per shipment. Existing shops keep the default.
ALTER TABLE shops
    ADD COLUMN email_per text NOT NULL DEFAULT 'order' CHECK (email_per IN ('order', 'shipment'));

-- With one email per shipment an order has a request per shipment: the
-- order's own (shipment 0) and one per later Shopify fulfillment
-- (activities.ScheduleShipment). Existing rows are the orders' own.
ALTER TABLE review_requests ADD COLUMN shipment bigint NOT NULL DEFAULT 0;
ALTER TABLE review_requests DROP CONSTRAINT review_requests_shop_order_id_key;
ALTER TABLE review_requests ADD CONSTRAINT review_requests_shop_order_shipment_key UNIQUE (shop, order_id, shipment);
