package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
		func(x *store.Settings) { x.Sender = "Shop <a@b.c>" },
		func(x *store.Settings) { x.Subject = "two\nlines" },
	}
	for i, mut := range badSettings {
		st := s.Settings
		mut(&st)
		if err := db.UpdateSettings(ctx, s.Domain, st); err == nil {
			t.Errorf("bad settings %d saved", i)
		}
	}
	got, err := db.Shop(ctx, s.Domain)
	if err != nil || got.Settings != s.Settings {
		t.Fatalf("settings changed by rejected updates: %+v, %v", got.Settings, err)
	}
	st := s.Settings
	st.Delay, st.Reminder, st.ConsentRequired = 90*time.Second, 48*time.Hour, false
	if err := db.UpdateSettings(ctx, s.Domain, st); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Shop(ctx, s.Domain)
	if got.Settings != st {
		t.Fatalf("settings = %+v, want %+v", got.Settings, st)
	}
	if err := db.UpdateSettings(ctx, "nope.myshopify.com", st); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of unknown shop: %v", err)
	}
}
