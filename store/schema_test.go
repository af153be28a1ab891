package store_test

import (
	"context"
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
