-- The shop's consent mode (store.ConsentMode, docs/consent.md): explicit
-- marketing consent, the EU soft opt-in (legitimate interest, with the
-- objection notice in every email) or none. Shops that required consent
-- keep explicit; the others get none, which is what they had.
-- consent_required stays, written in step (explicit = true), for readers
-- from before this column.
ALTER TABLE shops
    ADD COLUMN consent_mode text NOT NULL DEFAULT 'explicit' CHECK (consent_mode IN ('explicit', 'soft_opt_in', 'none'));
UPDATE shops SET consent_mode = CASE WHEN consent_required THEN 'explicit' ELSE 'none' END;
