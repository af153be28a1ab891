-- Each shop's registry becomes two hash chains: `retention`, which holds the
-- scheduled retention sweep's entries (purpose `retention`), and the main
-- chain ('') for everything else. An append locks its chain's head until its
-- transaction commits; the sweep appends hundreds of entries per batch, and
-- while its batch held the shop's one head, every webhook of that shop waited
-- behind it (about 10 ms of intake's time during a million-row sweep). With
-- two chains the sweep and intake never wait on each other, and both chains
-- still verify offline: each entry links to the one before it in its chain,
-- and an export's manifest signs every chain's end.
--
-- Existing entries stay where they were chained (the main chain).
ALTER TABLE registry_entries ADD COLUMN chain text NOT NULL DEFAULT '';
ALTER TABLE registry_entries DROP CONSTRAINT registry_entries_shop_shop_seq_key;
ALTER TABLE registry_entries ADD CONSTRAINT registry_entries_chain_seq UNIQUE (shop, chain, shop_seq);

ALTER TABLE registry_heads ADD COLUMN chain text NOT NULL DEFAULT '';
ALTER TABLE registry_heads DROP CONSTRAINT registry_heads_pkey;
ALTER TABLE registry_heads ADD PRIMARY KEY (shop, chain);
--
-- The new unique index is built under a lock that holds appends for the
-- build (migrations run in one transaction): on a registry of tens of
-- millions of entries, run it in a quiet hour.
