package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// appRoleDB makes a fresh database, an app role granted on it as
// `candor migrate` does, and returns the owner's and the app's handles.
func appRoleDB(t *testing.T) (owner, app *store.DB) {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "candor_app_test_" + hex.EncodeToString(b)
	admin, err := sqlx.Open("postgres", storetest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the database is dropped.
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP ROLE IF EXISTS ` + pq.QuoteIdentifier(role))
		admin.Close()
	})
	owner, url := storetest.New(t)
	appURL, err := owner.EnsureAppRole(ctx, url, role)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.GrantApp(ctx, role); err != nil {
		t.Fatal(err)
	}
	if app, err = store.Open(ctx, appURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return owner, app
}

func appendOne(ctx context.Context, db *store.DB, shop string) error {
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := registry.Append(ctx, tx, time.Now(), registry.Entry{Shop: shop, Datum: registry.DatumEmail, System: registry.SystemSendGrid,
			Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent,
			ExpiresAt: time.Now().Add(time.Hour), Ref: "rq_role"})
		return err
	})
}

func TestAppRole_CannotTruncateDeleteUpdateOrAlterTheRegistry(t *testing.T) {
	owner, app := appRoleDB(t)
	ctx := context.Background()
	const shop = "roles.myshopify.com"
	// What serve and worker do still works as the app role.
	if err := appendOne(ctx, app, shop); err != nil {
		t.Fatalf("append as the app role: %v", err)
	}
	if err := app.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: "x", Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatalf("store a shop as the app role: %v", err)
	}
	if _, err := app.Exec(`DELETE FROM shops WHERE domain = $1`, shop); err != nil {
		t.Fatalf("delete an ordinary row as the app role: %v", err)
	}
	if err := registry.RecordAccess(ctx, app.DB, registry.Access{Principal: "tok_x", What: registry.AccessTrail, Shops: []string{shop}, Ref: "tr_x"}, time.Now()); err != nil {
		t.Fatalf("access log as the app role: %v", err)
	}
	if _, err := app.Exec(`INSERT INTO registry_checkpoints (at, checkpoint) VALUES (now(), '{}')`); err != nil {
		t.Fatalf("checkpoint as the app role: %v", err)
	}
	for _, stmt := range []string{
		`TRUNCATE registry_entries`,
		`DELETE FROM registry_entries`,
		`UPDATE registry_entries SET purpose = 'audit'`,
		`ALTER TABLE registry_entries DISABLE TRIGGER registry_entries_no_update`,
		`ALTER TABLE registry_entries ADD COLUMN x int`,
		`DROP TABLE registry_entries`,
		`TRUNCATE registry_heads`,
		`DELETE FROM registry_heads`,
		`ALTER TABLE registry_heads ADD COLUMN x int`,
		`TRUNCATE access_log`,
		`DELETE FROM access_log`,
		`UPDATE access_log SET principal = 'someone else'`,
		`ALTER TABLE access_log DISABLE TRIGGER access_log_no_update`,
		`TRUNCATE registry_checkpoints`,
		`DELETE FROM registry_checkpoints`,
		`UPDATE registry_checkpoints SET checkpoint = '{}'`,
		`DELETE FROM schema_migrations`,
		`DROP TRIGGER registry_entries_no_update ON registry_entries`,
	} {
		_, err := app.Exec(stmt)
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) || pqErr.Code != "42501" {
			t.Errorf("%s as the app role: %v, want insufficient_privilege (42501)", stmt, err)
		}
	}
	n := 0
	_ = owner.Get(&n, `SELECT count(*) FROM registry_entries`)
	if n != 2 {
		t.Fatalf("%d registry entries, want the 2 appended", n)
	}
}

func TestGrantApp_RefusesTheOwnerAndUnknownRoles(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	var me string
	_ = db.Get(&me, `SELECT current_user`)
	if err := db.GrantApp(ctx, me); !errors.Is(err, store.ErrOwnerAsApp) {
		t.Fatalf("the owner as app role: %v", err)
	}
	if err := db.GrantApp(ctx, "no_such_role_x"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("unknown role: %v", err)
	}
}
