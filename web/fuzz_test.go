package web_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/web"
)

// Fuzz targets. .ci/run runs each for a bounded time (the list is in
// .ci/fuzz-targets); docs/reliability.md ("Fuzzing") says what they check.
// They need neither Postgres nor Temporal: the servers here have no
// database, so an input that got as far as one would panic, and the fuzzer
// would report it.

var fuzzNow = time.Unix(1_800_000_000, 0)

// fuzzServer is a Server without a database or Temporal.
func fuzzServer(t testing.TB) *web.Server {
	t.Helper()
	ring, err := keys.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &web.Server{Keys: ring, ShopifySecret: secret, ShopifyAPIKey: appKey, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return fuzzNow }}
}

// FuzzSessionToken: App Bridge session tokens. A token verifies only if it
// is HS256 over its own header and claims with the app's secret, for this
// app, unexpired, from a shop's admin; then its shop is that admin's. The
// same token signed with another secret, as alg none, or changed in one
// byte never verifies.
func FuzzSessionToken(f *testing.F) {
	good, _ := json.Marshal(map[string]any{"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": appKey, "sub": "42",
		"exp": fuzzNow.Add(time.Minute).Unix(), "nbf": fuzzNow.Add(-time.Second).Unix(), "iat": fuzzNow.Unix(), "jti": "4c5b0a1e-jti", "sid": "s1"})
	header := []byte(`{"alg":"HS256","typ":"JWT"}`)
	f.Add(header, good, secret, uint(0), byte(1))
	f.Add(header, good, secret, uint(1<<20), byte(2)) // the last byte of the signature
	f.Add(header, good, secret, uint(60), byte('\n'))
	f.Add([]byte(`{"alg":"none"}`), good, secret, uint(5), byte(1))
	// Other spellings of a good signature: a line break in it, and its
	// last character with other unused low bits.
	tok := hs256(header, good, secret)
	f.Add(header, good, secret, uint(len(tok)-5), byte('\n'))
	f.Add(header, good, secret, uint(len(tok)-1), sameBitsXOR(tok[len(tok)-1]))
	f.Add([]byte(`{"alg":"HS256","alg":"none"}`), []byte(`{"aud":["x","`+appKey+`"],"exp":1e300}`), "other", uint(9), byte(0x20))
	f.Fuzz(func(t *testing.T, header, claims []byte, signWith string, pos uint, b byte) {
		tok := hs256(header, claims, signWith)
		gotShop, jti, _, err := web.VerifySessionToken(tok, appKey, secret, fuzzNow)
		if err == nil {
			var h struct{ Alg string }
			if json.Unmarshal(header, &h) != nil || h.Alg != "HS256" || signWith != secret {
				t.Fatalf("accepted a token with header %s signed with %q", header, signWith)
			}
			if !shopify.ValidShopDomain(gotShop) || jti == "" {
				t.Fatalf("accepted shop %q, jti %q", gotShop, jti)
			}
			var c struct{ Dest, Iss string }
			if json.Unmarshal(claims, &c) != nil || c.Dest != "https://"+gotShop || c.Iss != c.Dest+"/admin" {
				t.Fatalf("shop %q is not the token's admin: %s", gotShop, claims)
			}
		}
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		for what, forged := range map[string]string{
			"another secret":           hs256(header, claims, "other-"+secret),
			"alg none":                 b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(string(claims)) + ".",
			"alg none, signature kept": b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(string(claims)) + "." + sig,
		} {
			if _, _, _, err := web.VerifySessionToken(forged, appKey, secret, fuzzNow); err == nil {
				t.Fatalf("%s: verified", what)
			}
		}
		i := int(pos % uint(len(tok)))
		changed := []byte(tok)
		changed[i] ^= b | 1 // never the same byte
		added := tok[:i] + string([]byte{b}) + tok[i:]
		for what, forged := range map[string]string{"changed": string(changed), "added": added, "cut": tok[:i] + tok[i+1:]} {
			if _, _, _, err := web.VerifySessionToken(forged, appKey, secret, fuzzNow); err == nil {
				t.Fatalf("a token with a byte %s at %d verified: %q (from %q)", what, i, forged, tok)
			}
		}
	})
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// sameBitsXOR is an odd x for which c^x is another base64url character
// with the same top four bits: the last character of a 32-byte signature
// carries four bits of it and two unused ones.
func sameBitsXOR(c byte) byte {
	v := strings.IndexByte(base64URL, c)
	for x := 1; x < 256; x += 2 {
		if w := strings.IndexByte(base64URL, c^byte(x)); v >= 0 && w >= 0 && w>>2 == v>>2 {
			return byte(x)
		}
	}
	return 1
}

// Found by reading verifySessionToken after FuzzLinkToken's finding (the
// seeds above make FuzzSessionToken check it too): the signature was decoded
// leniently, so a token with a line break in it, or with its last
// character's unused bits changed, verified as the same token.
func TestSessionToken_AnotherSpellingOfTheSignatureIsRefused(t *testing.T) {
	claims, _ := json.Marshal(map[string]any{"iss": "https://" + shop + "/admin", "dest": "https://" + shop, "aud": appKey,
		"exp": fuzzNow.Add(time.Minute).Unix(), "jti": "j1", "sid": "s1"})
	tok := hs256([]byte(`{"alg":"HS256","typ":"JWT"}`), claims, secret)
	if _, _, _, err := web.VerifySessionToken(tok, appKey, secret, fuzzNow); err != nil {
		t.Fatal(err)
	}
	last := len(tok) - 1
	for name, bad := range map[string]string{
		"unused bits changed": tok[:last] + string(tok[last]^sameBitsXOR(tok[last])),
		"line break":          tok[:last-4] + "\n" + tok[last-4:],
		"CRLF at the end":     tok + "\r\n",
	} {
		if bad == tok {
			t.Fatalf("%s: the token is unchanged", name)
		}
		if _, _, _, err := web.VerifySessionToken(bad, appKey, secret, fuzzNow); err == nil {
			t.Errorf("%s: %q verified", name, bad)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// hs256 signs a session token over header and claims as given.
func hs256(header, claims []byte, key string) string {
	signing := b64(string(header)) + "." + b64(string(claims))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// FuzzShopifyWebhook: POST /webhooks/shopify. A delivery whose HMAC was
// computed over other bytes or with another secret is refused with 401
// before anything else is read. A signed one is decided from its payload
// alone: a bad payload is ErrBadPayload (FuzzParseWebhook checks that its
// message quotes nothing), and a start names this shop and the payload's
// order, with products that have an ID and a title.
func FuzzShopifyWebhook(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "integrations", "shopify", "testdata", "webhooks", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no published samples: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("{shop}.myshopify.com"), []byte(shop))
		topic := strings.Replace(strings.TrimSuffix(filepath.Base(p), ".json"), "_", "/", 1)
		f.Add(topic, b, b[1:], uint8(0))
		f.Add(topic, b, b, uint8(1))
	}
	f.Add(shopify.TopicFulfillmentCreate, []byte(`{"id":1,"order_id":2,"status":"success","line_items":[{"product_id":3,"title":"T"},{"product_id":null,"title":"custom"}]}`), []byte(`{}`), uint8(2))
	srv := fuzzServer(f)
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, topic string, body, other []byte, how uint8) {
		// A forgery: a signature over other bytes, or with another secret.
		req := httptest.NewRequest(http.MethodPost, "/webhooks/shopify", bytes.NewReader(body))
		req.Header.Set(shopify.HeaderTopic, topic)
		req.Header.Set(shopify.HeaderShop, shop)
		req.Header.Set(shopify.HeaderWebhookID, "wh-1")
		switch how % 3 {
		case 0:
			if bytes.Equal(body, other) {
				return
			}
			req.Header.Set(shopify.HeaderHMAC, shopify.Sign(secret, other))
		case 1:
			req.Header.Set(shopify.HeaderHMAC, shopify.Sign(secret+"x", body))
		case 2:
			req.Header.Set(shopify.HeaderHMAC, string(other))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("a forged delivery got %d: %s", rec.Code, rec.Body)
		}

		// Signed: what intake decides, without I/O.
		signed, _ := shopifytest.WebhookRequest("/webhooks/shopify", topic, shop, secret, "wh-1", body)
		if !shopify.VerifyHMAC(secret, body, signed.Header.Get(shopify.HeaderHMAC)) {
			t.Fatal("a signed delivery does not verify")
		}
		start, orderID, _, err := srv.Decide(topic, shop, body)
		if err != nil {
			if !errors.Is(err, shopify.ErrBadPayload) {
				t.Fatalf("a bad payload's error is not ErrBadPayload: %v", err)
			}
			return
		}
		if start != nil {
			if start.Shop != shop || start.OrderID != orderID || orderID <= 0 || len(start.Products) == 0 || start.RequestID == "" {
				t.Fatalf("started %+v for order %d", start, orderID)
			}
			for _, p := range start.Products {
				if p.ID == 0 || strings.TrimSpace(p.Title) == "" {
					t.Fatalf("started with product %+v", p)
				}
			}
		}
	})
}

// FuzzLinkPages: GET /r/{token} and GET and POST /u/{token}. A link token
// changed in any byte gets the "not valid" page and goes no further (the
// server has no database to go to).
func FuzzLinkPages(f *testing.F) {
	srv := fuzzServer(f)
	h := srv.Handler()
	for _, kind := range []keys.LinkKind{keys.LinkReview, keys.LinkUnsubscribe} {
		tok := srv.Keys.SignLink(keys.Link{Kind: kind, Shop: shop, RequestID: "rq_0123456789abcdef", ProductID: 7, Expires: fuzzNow.Add(time.Hour).Unix()})
		f.Add(tok, uint(0), byte(1))
		f.Add(tok, uint(len(tok)-1), byte(2))
	}
	f.Fuzz(func(t *testing.T, tok string, pos uint, b byte) {
		if tok == "" {
			return
		}
		i := int(pos % uint(len(tok)))
		changed := []byte(tok)
		changed[i] ^= b | 1 // never the same byte
		for _, route := range []struct{ method, kind string }{{http.MethodGet, "r"}, {http.MethodGet, "u"}, {http.MethodPost, "u"}} {
			req := httptest.NewRequest(route.method, "/"+route.kind+"/"+url.PathEscape(string(changed)), nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusNotFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
				continue // the router's answer (".", "/"): no handler saw it
			}
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "This link is not valid") {
				t.Fatalf("%s /%s/ with a changed token: %d", route.method, route.kind, rec.Code)
			}
		}
	})
}
