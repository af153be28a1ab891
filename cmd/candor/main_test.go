package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

// capture runs the command with stdout captured.
func capture(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := run(context.Background(), args)
	w.Close()
	os.Stdout = old
	out, _ := io.ReadAll(r)
	return string(out), err
}

// cliEnv is what a CLI test runs in: a fresh directory (no .candor/ to
// fall back on), a fresh database and a random master key, in the
// environment the commands read.
func cliEnv(t *testing.T) (*store.DB, *keys.Ring) {
	t.Helper()
	t.Chdir(t.TempDir())
	db, url := storetest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(key))
	ring, err := keys.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return db, ring
}

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

func TestServe_RefusesToStartWithoutWebhookSecret(t *testing.T) {
	t.Chdir(t.TempDir()) // no .candor/ to fall back on
	t.Setenv("DATABASE_URL", "postgres://127.0.0.1:1/none")
	t.Setenv("SHOPIFY_API_SECRET", "")
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	t.Setenv("CANDOR_PUBLIC_URL", "https://candor.example")
	_, err := capture(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "SHOPIFY_API_SECRET is empty") {
		t.Fatalf("serve with empty secret: %v", err)
	}
	t.Setenv("CANDOR_MASTER_KEY", "short")
	if _, err := capture(t, "serve"); err == nil || !strings.Contains(err.Error(), "CANDOR_MASTER_KEY") {
		t.Fatalf("bad master key: %v", err)
	}
}

func TestCLI_BadInputIsAUsageError(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := [][]string{
		{},
		{"frobnicate"},
		{"serve", "--port", "1"},
		{"shops"},
		{"shops", "delete"},
		{"shops", "add", "--shop", "evil.com", "--token", "x"},
		{"shops", "add", "--shop", "a.myshopify.com.evil.com", "--token", "x"},
		{"shops", "add", "--shop", "a.myshopify.com"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--delay", "-5s"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--delay", "soon"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--consent-required", "maybe"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--email-per", "parcel"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--max-products", "many"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--consent-mode", "implied"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--consent-mode", "none", "--consent-required=true"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--product-once", "sometimes"},
		{"shops", "add", "--shop", "a.myshopify.com", "--token", "x", "--review-url", "http://x/{handle}"},
		{"shops", "set", "--shop", "a.myshopify.com"},
		{"simulate"},
		{"simulate", "teleport"},
		{"simulate", "cancel", "--shop", "evil.com"},
		{"simulate", "cancel", "--customer-of", "5"},
		{"simulate", "fulfillment", "--customer-of", "5", "--order", "6"},
		{"simulate", "fulfillment", "--customer-of", "-5"},
		{"reconcile"},
		{"reconcile", "now"},
		{"reconcile", "run", "--shop", "a.myshopify.com"},
	}
	for _, args := range cases {
		_, err := capture(t, args...)
		if !isUsage(err) {
			t.Errorf("candor %s: err = %v, want a usage error", strings.Join(args, " "), err)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("candor %s: error is not one line: %q", strings.Join(args, " "), err)
		}
	}
}

func TestShops_AddSealsTheTokenAndListShowsSettings(t *testing.T) {
	db, _ := cliEnv(t)
	const token = "shpat_0123456789abcdef"
	if _, err := capture(t, "shops", "add", "--shop", "cli-test.myshopify.com", "--token", token, "--delay", "14d", "--reminder", "36h"); err != nil {
		t.Fatal(err)
	}
	var sealed string
	if err := db.Get(&sealed, `SELECT access_token_sealed FROM shops WHERE domain = 'cli-test.myshopify.com'`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, token) || !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("token stored as %q", sealed)
	}
	if _, err := capture(t, "shops", "add", "--shop", "cli-test.myshopify.com", "--token", token); err == nil || !strings.Contains(err.Error(), "already connected") {
		t.Fatalf("second add: %v", err)
	}
	if _, err := capture(t, "shops", "set", "--shop", "cli-test.myshopify.com", "--consent-required=false", "--fallback-delay", "90s", "--email-per", "shipment", "--max-products", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, "shops", "set", "--shop", "cli-test.myshopify.com", "--consent-mode", "soft_opt_in"); err != nil {
		t.Fatal(err)
	}
	var saved struct {
		EmailPer    string `db:"email_per"`
		MaxProducts int    `db:"cap_max_products"`
		ConsentMode string `db:"consent_mode"`
	}
	if err := db.Get(&saved, `SELECT email_per, cap_max_products, consent_mode FROM shops WHERE domain = 'cli-test.myshopify.com'`); err != nil ||
		saved.EmailPer != store.EmailPerShipment || saved.MaxProducts != 2 || saved.ConsentMode != store.ConsentSoftOptIn {
		t.Fatalf("saved %+v, %v; want shipment and 2 products", saved, err)
	}
	if _, err := capture(t, "shops", "set", "--shop", "nope.myshopify.com", "--delay", "1d"); err == nil || !strings.Contains(err.Error(), "not connected") {
		t.Fatalf("set on unknown shop: %v", err)
	}
	out, err := capture(t, "shops", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cli-test.myshopify.com", "14d", "90s", "36h", "false"} {
		if !strings.Contains(out, want) {
			t.Errorf("shops list lacks %q:\n%s", want, out)
		}
	}
}

// A shop cannot send as an arbitrary From or link to an arbitrary site:
// `shops set --from` is refused, and a review URL off the shop's domains
// (as Shopify reports them) or the review platforms is refused. Nothing is
// saved either way.
func TestShops_SetRefusesAFromAddressAndOffDomainReviewURLs(t *testing.T) {
	t.Chdir(t.TempDir())
	db, url := storetest.New(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	const shop, token = "cli-test.myshopify.com", "shpat_0123456789abcdef"
	st := shopifytest.New(token, config.ShopifyAPIVersion)
	t.Cleanup(st.Close)
	st.Shop, st.PrimaryDomain = shop, "clitest.example"
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CANDOR_MASTER_KEY", base64.StdEncoding.EncodeToString(key))
	t.Setenv("CANDOR_SHOPIFY_BASE_URL", st.URL)
	if _, err := capture(t, "shops", "add", "--shop", shop, "--token", token); err != nil {
		t.Fatal(err)
	}
	var before string
	if err := db.Get(&before, `SELECT review_url_template FROM shops WHERE domain = $1`, shop); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--from", "ceo@bank.example"},
		{"--review-url", "https://evil.example/products/{handle}", "--delay", "3d"},
		{"--review-url", "https://{handle}.evil.example/"},
		{"--review-url", "https://judge.me@evil.example/{handle}"},
		{"--review-url", "https://other-shop.myshopify.com/products/{handle}"},
	} {
		_, err := capture(t, append([]string{"shops", "set", "--shop", shop}, args...)...)
		if !isUsage(err) {
			t.Errorf("shops set %s: err = %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	var after string
	var delay int64
	if err := db.QueryRow(`SELECT review_url_template, delay_seconds FROM shops WHERE domain = $1`, shop).Scan(&after, &delay); err != nil {
		t.Fatal(err)
	}
	if after != before || delay == 3*24*3600 {
		t.Fatalf("refused settings were saved: %q, delay %ds", after, delay)
	}
	// The shop's primary domain, as Shopify reports it, and the platforms pass.
	for _, u := range []string{"https://clitest.example/products/{handle}#reviews", "https://judge.me/reviews/{handle}"} {
		if _, err := capture(t, "shops", "set", "--shop", shop, "--review-url", u); err != nil {
			t.Errorf("--review-url %s: %v", u, err)
		}
	}
	if st.Calls("CandorShopProfile") == 0 {
		t.Error("the custom domain was not checked with Shopify")
	}
	// So does adding a shop with an off-domain review URL.
	if _, err := capture(t, "shops", "add", "--shop", "second.myshopify.com", "--token", token, "--review-url", "https://evil.example/{handle}"); !isUsage(err) {
		t.Errorf("shops add with an off-domain review URL: %v", err)
	}
	var n int
	_ = db.Get(&n, `SELECT count(*) FROM shops WHERE domain = 'second.myshopify.com'`)
	if n != 0 {
		t.Error("the shop was added")
	}
}

func TestRegistryCLI_ExportVerifyTamperTrail(t *testing.T) {
	db, _ := registryFixture(t)
	pub, err := capture(t, "registry", "pubkey")
	if err != nil {
		t.Fatal(err)
	}
	pub = strings.TrimSpace(pub)
	if _, err := capture(t, "registry", "export", "--format", "csv", "-o", "reg.csv"); err != nil {
		t.Fatal(err)
	}
	out, err := capture(t, "registry", "verify", "reg.csv", "--pubkey", pub)
	if err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q, %v", out, err)
	}
	b, _ := os.ReadFile("reg.csv")
	ls := strings.SplitAfter(string(b), "\n")
	ls[3] = strings.Replace(ls[3], "consent", "legitimate_interests", 1)
	_ = os.WriteFile("tampered.csv", []byte(strings.Join(ls, "")), 0o644)
	sig, _ := os.ReadFile("reg.csv.sig")
	_ = os.WriteFile("tampered.csv.sig", sig, 0o644)
	_, err = capture(t, "registry", "verify", "tampered.csv", "--pubkey", pub)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("tampered verify: %v, want exit 1 naming line 4", err)
	}
	if _, err := capture(t, "registry", "verify", "nosuch.csv", "--pubkey", pub); !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("verify without a signature file: %v", err)
	}
	out, err = capture(t, "registry", "trail", "--shop", "cli.myshopify.com", "--customer-id", "42")
	if err != nil || !strings.Contains(out, "user.contact.email") || !strings.Contains(out, "sendgrid") || !strings.Contains(out, "sub-processor") {
		t.Fatalf("trail: %q, %v", out, err)
	}
	out, err = capture(t, "registry", "export", "--format", "ropa", "--shop", "cli.myshopify.com")
	if err != nil || !strings.Contains(out, "(e) Transfers to third countries") {
		t.Fatalf("ropa: %v\n%s", err, out)
	}
	tok, err := capture(t, "tokens", "create", "--name", "test", "--role", "auditor")
	if err != nil || !strings.HasPrefix(tok, "cnd_") {
		t.Fatalf("tokens create: %q, %v", tok, err)
	}
	var stored int
	_ = db.Get(&stored, `SELECT count(*) FROM api_tokens WHERE token_sha256 <> '' AND token_sha256 <> $1`, strings.TrimSpace(tok))
	if stored != 1 {
		t.Fatal("the token is not stored as a hash")
	}
}

func TestRegistryCLI_BadInputIsAUsageError(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"registry"},
		{"registry", "erase"},
		{"registry", "export", "--format", "xml"},
		{"registry", "verify"},
		{"registry", "verify", "--pubkey", "x"},
		{"registry", "export", "--since", "yesterday"},
		{"registry", "export", "--until", "2026-13-45"},
		{"registry", "export", "--customer-id", "42"},
		{"registry", "export", "--shop", "a.myshopify.com", "--customer-id", "-1"},
		{"registry", "export", "--subject", "sub_x"},
		{"registry", "export", "--shop", "evil.com"},
		{"registry", "trail", "--customer-id", "42"},
		{"registry", "trail", "--shop", "a.myshopify.com"},
		{"tokens"},
		{"tokens", "create", "--role", "admin"},
		{"tokens", "create", "--role", "merchant"},
		{"tokens", "create", "--role", "auditor", "--shop", "a.myshopify.com"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("candor %s: err = %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

// A simulated fulfillment is what Shopify sends for an order shipped in one
// parcel: the fulfillment, orders/fulfilled (the whole order), then the
// delivery, so the demo's email follows the delay after delivery.
// With --parcels 2 each product ships on its own, the order is fulfilled
// with the second, and the second parcel is delivered before the first.
func TestSimulatedFulfillment_InTwoParcelsShipsEachProductOnceAndDeliversOutOfOrder(t *testing.T) {
	o := shopifytest.DemoOrder(42)
	type parcel struct {
		topic, name, status string
		products            int
	}
	var got []parcel
	for _, h := range simulatedHooks("fulfillment", DemoShop, o, true, 2) {
		var f struct {
			Name           string            `json:"name"`
			ShipmentStatus *string           `json:"shipment_status"`
			LineItems      []json.RawMessage `json:"line_items"`
		}
		if err := json.Unmarshal(h.body, &f); err != nil {
			t.Fatal(err)
		}
		p := parcel{topic: h.topic, products: len(f.LineItems)}
		if h.topic != shopify.TopicOrderFulfilled {
			p.name = f.Name
			if f.ShipmentStatus != nil {
				p.status = *f.ShipmentStatus
			}
		}
		got = append(got, p)
	}
	want := []parcel{
		{shopify.TopicFulfillmentCreate, o.Name + ".1", "", 1},
		{shopify.TopicFulfillmentCreate, o.Name + ".2", "", 1},
		{shopify.TopicOrderFulfilled, "", "", 2},
		{shopify.TopicFulfillmentUpdate, o.Name + ".2", "delivered", 1},
		{shopify.TopicFulfillmentUpdate, o.Name + ".1", "delivered", 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("hooks %+v\nwant %+v", got, want)
	}
	if err := run(context.Background(), []string{"simulate", "fulfillment", "--parcels", "3"}); err == nil || !strings.Contains(err.Error(), "--parcels must be 1 to 2") {
		t.Errorf("--parcels 3: %v", err)
	}
}

func TestSimulatedFulfillment_IsTheWholeOrderShippedInOneParcel(t *testing.T) {
	o := shopifytest.DemoOrder(42)
	var got []string
	for _, h := range simulatedHooks("fulfillment", DemoShop, o, true, 1) {
		got = append(got, h.topic)
	}
	want := []string{shopify.TopicFulfillmentCreate, shopify.TopicOrderFulfilled, shopify.TopicFulfillmentUpdate}
	if !slices.Equal(got, want) {
		t.Fatalf("topics %v, want %v", got, want)
	}
}
