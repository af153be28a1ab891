package store_test

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/store/storetest"
)

// The shops table's CHECK repeats shopify.ShopDomainPattern, since SQL
// cannot import it. Read back from Postgres, the two must be the same
// pattern, so that a change to one without the other fails here.
func TestShopDomainCheck_IsShopifysPattern(t *testing.T) {
	db, _ := storetest.New(t)
	var defs []string
	if err := db.SelectContext(context.Background(), &defs, `SELECT pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conrelid = 'shops'::regclass AND contype = 'c'`); err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`^CHECK \(\(domain ~ '((?:[^']|'')*)'::text\)\)$`)
	var found []string
	for _, d := range defs {
		if m := literal.FindStringSubmatch(d); m != nil {
			found = append(found, strings.ReplaceAll(m[1], "''", "'"))
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one regex CHECK on shops.domain, found %q among %q", found, defs)
	}
	if found[0] != shopify.ShopDomainPattern {
		t.Fatalf("shops.domain CHECK is %q, shopify.ShopDomainPattern is %q", found[0], shopify.ShopDomainPattern)
	}
}

// registry_entries_v0, the single chain that migration 0003 replaced, is
// read by nothing, so the migrations leave no such table behind.
func TestMigrate_LeavesNoUnreadSingleChainRegistry(t *testing.T) {
	db, _ := storetest.New(t)
	var v0, current sql.NullString
	if err := db.QueryRowContext(context.Background(), `SELECT to_regclass('registry_entries_v0')::text, to_regclass('registry_entries')::text`).Scan(&v0, &current); err != nil {
		t.Fatal(err)
	}
	if v0.Valid || !current.Valid {
		t.Fatalf("tables: registry_entries_v0 %+v, registry_entries %+v; want only registry_entries", v0, current)
	}
}
