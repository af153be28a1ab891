package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

func TestMigrate_IsIdempotent(t *testing.T) {
	db, _ := storetest.New(t)
	applied, err := db.Migrate(context.Background())
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, err %v", applied, err)
	}
}

func TestShops_AddValidateUpdate(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	s := store.Shop{Domain: "demo.myshopify.com", TokenSealed: "v1.x.y", Settings: store.DefaultSettings("demo.myshopify.com")}
	if err := db.AddShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := db.AddShop(ctx, s); !errors.Is(err, store.ErrShopExists) {
		t.Fatalf("second add: %v", err)
	}
	for _, domain := range []string{"evil.com", "a.myshopify.com.evil.com", "-a.myshopify.com", ""} {
		bad := s
		bad.Domain = domain
		if err := db.AddShop(ctx, bad); err == nil {
			t.Errorf("shop %q accepted", domain)
		}
	}
	badSettings := []func(*store.Settings){
		func(x *store.Settings) { x.Delay = -time.Second },
		func(x *store.Settings) { x.ReviewURL = "http://insecure/{handle}" },
		func(x *store.Settings) { x.ReviewURL = "https://x/{customer_email}" },
		func(x *store.Settings) { x.Subject = "two\nlines" },
		func(x *store.Settings) { x.Subject = "Hi {first_name}" },
		func(x *store.Settings) { x.WindowStart = 24 * 60 },
		func(x *store.Settings) { x.WindowEnd = -1 },
		func(x *store.Settings) { x.TimeZone = "Mars/Olympus_Mons" },
		func(x *store.Settings) { x.TimeZone = "Local" },
		func(x *store.Settings) { x.TimeZone = "../../etc/passwd" },
		func(x *store.Settings) { x.ExcludedProducts = []int64{12, -3} },
		func(x *store.Settings) { x.ExcludedTags = []string{"ok", " padded"} },
		func(x *store.Settings) { x.ExcludedTags = []string{"a,b"} },
	}
	for i, mut := range badSettings {
		st := s.Settings
		mut(&st)
		if err := db.UpdateSettings(ctx, s.Domain, st); err == nil {
			t.Errorf("bad settings %d saved", i)
		}
	}
	got, err := db.Shop(ctx, s.Domain)
	if err != nil || !reflect.DeepEqual(got.Settings, s.Settings) {
		t.Fatalf("settings changed by rejected updates: %+v, %v", got.Settings, err)
	}
	st := s.Settings
	st.Delay, st.Reminder, st.ConsentMode = 90*time.Second, 48*time.Hour, store.ConsentNone
	st.WindowStart, st.WindowEnd, st.TimeZone = 9*60, 17*60+30, "Europe/Berlin"
	st.ExcludedProducts, st.ExcludedTags = []int64{8801, 8803}, []string{"gift card", "sample"}
	if err := db.UpdateSettings(ctx, s.Domain, st); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Shop(ctx, s.Domain)
	if !reflect.DeepEqual(got.Settings, st) {
		t.Fatalf("settings = %+v, want %+v", got.Settings, st)
	}
	if err := db.UpdateSettings(ctx, "nope.myshopify.com", st); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of unknown shop: %v", err)
	}
}

func TestShops_ReviewDestinationStaysOnTheShopOrAReviewPlatform(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	const shop = "linen-and-wool.myshopify.com"
	s := store.Shop{Domain: shop, TokenSealed: "v1.x.y", Settings: store.DefaultSettings(shop)}
	if err := db.AddShop(ctx, s); err != nil {
		t.Fatal(err)
	}
	shopHosts := []string{shop, "linenandwool.example"} // as Shopify reports them
	refused := []string{
		"https://evil.example/{handle}",                  // an arbitrary site
		"https://evil.example/{handle}?shop={shop}",      // {shop} only in the query
		"https://{handle}.evil.example/",                 // a placeholder in the host
		"https://{shop}.evil.example/products/{handle}",  // {shop} as a subdomain of another site
		"https://judge.me@evil.example/{handle}",         // user info: the host is evil.example
		"https://judge.me.evil.example/reviews/{handle}", // a look-alike of a platform
		"https://linenandwool.example:8443/products/{handle}",
		"https://other-shop.myshopify.com/products/{handle}", // another shop
	}
	for _, u := range refused {
		st := s.Settings
		st.ReviewURL = u
		if err := db.UpdateSettings(ctx, shop, st, shopHosts...); err == nil {
			t.Errorf("review URL %s saved", u)
		}
	}
	// A custom domain needs Shopify's word: without the shop's hosts it is
	// refused, with them it is kept.
	custom := s.Settings
	custom.ReviewURL = "https://LinenAndWool.example/products/{handle}#reviews"
	if !store.ReviewHostNeedsShop(custom.ReviewURL, shop) {
		t.Fatal("a custom domain must be checked against Shopify")
	}
	if err := db.UpdateSettings(ctx, shop, custom); err == nil {
		t.Fatal("custom domain saved without the shop's domains from Shopify")
	}
	got, err := db.Shop(ctx, shop)
	if err != nil || got.ReviewURL != s.ReviewURL {
		t.Fatalf("refused updates changed the review URL to %q (%v)", got.ReviewURL, err)
	}
	if err := db.UpdateSettings(ctx, shop, custom, shopHosts...); err != nil {
		t.Fatalf("the shop's primary domain: %v", err)
	}
	for _, u := range []string{
		"https://{shop}/products/{handle}#reviews",
		"https://" + shop + "/products/{handle}",
		"https://judge.me/reviews/{handle}",
		"https://uk.trustpilot.com/evaluate/linenandwool.example",
		"https://search.google.com/local/writereview?placeid=ChIJ123",
		"https://g.page/r/CabcdEF/review",
	} {
		st := s.Settings
		st.ReviewURL = u
		if store.ReviewHostNeedsShop(u, shop) {
			t.Errorf("%s should not need Shopify", u)
		}
		if err := db.UpdateSettings(ctx, shop, st); err != nil {
			t.Errorf("review URL %s refused: %v", u, err)
		}
	}
	bad := s
	bad.Domain, bad.ReviewURL = "other.myshopify.com", "https://evil.example/{handle}"
	if err := db.AddShop(ctx, bad); err == nil {
		t.Fatal("AddShop saved an off-domain review URL")
	}
}

func TestSettings_ProblemsNameEveryBadField(t *testing.T) {
	s := store.DefaultSettings("demo.myshopify.com")
	s.Delay, s.TimeZone, s.ReviewURL = -time.Hour, "Nowhere/Town", "https://x/{oops}"
	var fields []string
	for _, p := range s.Problems() {
		fields = append(fields, p.Field)
	}
	if want := []string{"delay", "review_url", "time_zone"}; !reflect.DeepEqual(fields, want) {
		t.Fatalf("problems in fields %v, want %v", fields, want)
	}
	var fe *store.FieldError
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "delay" {
		t.Fatalf("Validate = %v, want the delay's FieldError", err)
	}
	if err := store.DefaultSettings("demo.myshopify.com").Validate(); err != nil {
		t.Fatalf("default settings invalid: %v", err)
	}
}

func TestParseClock(t *testing.T) {
	for in, want := range map[string]int{"00:00": 0, "09:30": 570, "23:59": 1439, "12:60": -1, "24:00": -1, "9am": -1, "": -1} {
		got, err := store.ParseClock(in)
		if want == -1 {
			if err == nil {
				t.Errorf("ParseClock(%q) = %d, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want || store.FormatClock(got) != in {
			t.Errorf("ParseClock(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestAsyncConn_CommitsAsynchronouslyAndGivesTheConnectionBackSynchronous(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	db.SetMaxOpenConns(1) // the next connection is the one AsyncConn used
	var pid int
	if err := db.GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.AsyncConn(ctx, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var inside, timeoutInside string
	if err := conn.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.GetContext(ctx, &timeoutInside, `SHOW lock_timeout`); err != nil {
			return err
		}
		return tx.GetContext(ctx, &inside, `SHOW synchronous_commit`)
	}); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("rolled back")
	if err := conn.InTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE async_probe (x int)`); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	conn.Close()

	var after, timeoutAfter string
	var samePID int
	if err := db.GetContext(ctx, &samePID, `SELECT pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &after, `SHOW synchronous_commit`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &timeoutAfter, `SHOW lock_timeout`); err != nil {
		t.Fatal(err)
	}
	var probe *string
	if err := db.GetContext(ctx, &probe, `SELECT to_regclass('async_probe')::text`); err != nil {
		t.Fatal(err)
	}
	if inside != "off" || after != "on" || timeoutInside != "1500ms" || timeoutAfter != "0" || samePID != pid || probe != nil {
		t.Fatalf("synchronous_commit %q inside, %q after; lock_timeout %q inside, %q after; on backend %d (first %d); rolled-back table exists: %v",
			inside, after, timeoutInside, timeoutAfter, samePID, pid, probe != nil)
	}
}

func TestRevokeToken_StopsThatTokenOnly(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	gone, rec, err := db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	kept, _, _ := db.CreateToken(ctx, store.TokenSpec{Name: "test", Role: store.RoleOperator})
	if _, err := db.Authenticate(ctx, gone); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if err := db.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Authenticate(ctx, gone); !errors.Is(err, store.ErrBadToken) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := db.Authenticate(ctx, kept); err != nil {
		t.Fatalf("the other token: %v", err)
	}
}
