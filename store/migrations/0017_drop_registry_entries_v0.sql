-- registry_entries_v0 held the entries written under the first registry's
-- single chain for all shops, which 0003 replaced by one chain per shop.
-- Nothing has read it since: exports, verification, the subject trail, data
-- requests and erasures read registry_entries only, and 0003 dropped the
-- head its chain ended in. On every install migrated with 0003 in place it
-- is empty (0003 renamed a table 0001 had just created). Evidence that no
-- export or trail can show helps no auditor, yet it would still name
-- pseudonymous subjects, so it goes. Its trigger goes with it; the trigger
-- function stays, for registry_entries. Should an install ever hold rows
-- there (one migrated before 0003 existed), they are evidence, and the table
-- is left for its operator to archive (docs/registry.md).
DO $$
BEGIN
  IF to_regclass('registry_entries_v0') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM registry_entries_v0) THEN
    DROP TABLE registry_entries_v0;
  END IF;
END $$;
