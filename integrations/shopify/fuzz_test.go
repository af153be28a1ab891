package shopify_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/integrations/shopify"
)

// Fuzz targets. .ci/run runs each for a bounded time (the list is in
// .ci/fuzz-targets); docs/reliability.md ("Fuzzing") says what they check.
// Each starts from Shopify's published sample payloads, signed, so the
// fuzzer begins from inputs Candor accepts.

const fuzzSecret = "shpss_fuzz_secret"

// publishedSamples are the sample payloads in testdata/webhooks, keyed by
// topic (the file name with the first "_" as "/").
func publishedSamples(f *testing.F) map[string][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "webhooks", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no published samples: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		topic := strings.Replace(strings.TrimSuffix(filepath.Base(p), ".json"), "_", "/", 1)
		out[topic] = bytes.ReplaceAll(b, []byte("{shop}.myshopify.com"), []byte("sample-shop.myshopify.com"))
	}
	return out
}

// FuzzWebhookHMAC: a body verifies under its own signature and secret, and
// never under a signature computed over other bytes or with another secret.
func FuzzWebhookHMAC(f *testing.F) {
	for _, body := range publishedSamples(f) {
		f.Add(body, body[:len(body)/2], fuzzSecret, shopify.Sign(fuzzSecret, body))
	}
	f.Add([]byte(""), []byte("x"), "s", "")
	f.Add([]byte("{}"), []byte("{} "), "s", "not base64!")
	f.Fuzz(func(t *testing.T, body, other []byte, secret, header string) {
		// Whatever the header, a verified body is one the secret signed.
		if shopify.VerifyHMAC(secret, body, header) {
			if secret == "" {
				t.Fatal("verified with an empty secret")
			}
			if !shopify.VerifyHMAC(secret, body, shopify.Sign(secret, body)) {
				t.Fatal("verified a header, but not the body's own signature")
			}
		}
		if secret == "" {
			return
		}
		sig := shopify.Sign(secret, body)
		if !shopify.VerifyHMAC(secret, body, sig) {
			t.Fatal("a body does not verify under its own signature")
		}
		if !bytes.Equal(body, other) && shopify.VerifyHMAC(secret, other, sig) {
			t.Fatalf("a signature over other bytes verified: %q for %q", other, body)
		}
		if shopify.VerifyHMAC(secret+"x", body, sig) {
			t.Fatal("verified with another secret")
		}
		if shopify.VerifyHMAC(secret, body, header) {
			// Only a spelling of the body's own 32-byte HMAC verifies.
			got, err := base64.StdEncoding.DecodeString(header)
			want, _ := base64.StdEncoding.DecodeString(sig)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("header %q verified, want %q", header, sig)
			}
		}
	})
}

// FuzzParseWebhook: no payload makes a parser panic; what a parser accepts
// has the IDs and fields intake relies on; an error names no value from
// the payload (it goes back to Shopify and into logs).
func FuzzParseWebhook(f *testing.F) {
	for topic, body := range publishedSamples(f) {
		f.Add(topic, body)
	}
	f.Add(shopify.TopicFulfillmentCreate, []byte(`{"id":1,"order_id":2,"status":"success","line_items":[{"product_id":3,"title":"T"}]}`))
	f.Add(shopify.TopicOrderFulfilled, []byte(`{"id":1,"name":"#1","line_items":[],"customer":{"id":5},"email":"a@b.c"}`))
	f.Add(shopify.TopicRefundCreate, []byte(`{"id":1,"order_id":9007199254740993}`))
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		var err error
		switch topic {
		case shopify.TopicFulfillmentCreate, shopify.TopicFulfillmentUpdate:
			var fl shopify.Fulfillment
			if fl, err = shopify.ParseFulfillment(body); err == nil {
				if fl.ID <= 0 || fl.OrderID <= 0 || fl.Status == "" || fl.LineItems == nil || fl.OrderName() == "" {
					t.Fatalf("accepted a fulfillment without what intake needs: %+v", fl)
				}
				checkItems(t, fl.LineItems)
			}
		case shopify.TopicOrderFulfilled, shopify.TopicOrderCancelled:
			needItems := topic == shopify.TopicOrderFulfilled
			var o shopify.Order
			if o, err = shopify.ParseOrder(body, needItems); err == nil {
				if o.ID <= 0 || needItems && (o.Name == "" || o.LineItems == nil) {
					t.Fatalf("accepted an order without what intake needs: %+v", o)
				}
				checkItems(t, o.LineItems)
			}
		case shopify.TopicRefundCreate:
			var r shopify.Refund
			if r, err = shopify.ParseRefund(body); err == nil && r.OrderID <= 0 {
				t.Fatalf("accepted a refund without an order: %+v", r)
			}
		default:
			var c shopify.Compliance
			if c, err = shopify.ParseCompliance(topic, body); err == nil && shopify.IsComplianceTopic(topic) {
				if !shopify.ValidShopDomain(c.ShopDomain) {
					t.Fatalf("accepted a compliance payload for %q", c.ShopDomain)
				}
				if shop := shopify.ComplianceShop(body); shop != c.ShopDomain {
					t.Fatalf("ComplianceShop = %q, the parser read %q", shop, c.ShopDomain)
				}
			}
		}
		if err != nil {
			checkErrorQuotesNothing(t, err)
		}
	})
}

func checkItems(t *testing.T, items []shopify.LineItem) {
	t.Helper()
	for _, li := range items {
		if li.ProductID != nil && strings.TrimSpace(li.Title) == "" {
			t.Fatalf("accepted a product line item without a title: %+v", li)
		}
	}
}

// parseErrorRe is every shape a parse error may take: it names a field or
// a byte offset, never a value.
var parseErrorRe = regexp.MustCompile(`^bad payload: (malformed JSON( at byte \d+)?|field "[a-z_.]*" has the wrong type|missing [a-z_. ]+|line_items\[\d+\] has a product_id but no title|customer\.id is not a Shopify ID)$`)

// checkErrorQuotesNothing fails unless err is ErrBadPayload in one of the
// shapes that name no value: the message goes back to Shopify.
func checkErrorQuotesNothing(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, shopify.ErrBadPayload) || !parseErrorRe.MatchString(err.Error()) {
		t.Fatalf("parse error %q is not one of the shapes that quote nothing", err)
	}
}

// FuzzVerifyRawQuery: the OAuth callback and app-load check. A query
// verifies only with the hmac of its own parameters: changing, adding or
// dropping any parameter, or signing with another secret, is refused. The
// one exception is Shopify's own ambiguity between its libraries, "+" and a
// space (see plusIsSpace).
func FuzzVerifyRawQuery(f *testing.F) {
	const docQuery = "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173"
	const appLoad = "embedded=1&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYQ%3D%3D&id_token=a.b.c&locale=en&session=abc&shop=some-shop.myshopify.com&timestamp=1337178173"
	f.Add(docQuery, docQuery, "hush")
	f.Add(docQuery, strings.Replace(docQuery, "some-shop", "evil-shop", 1), "hush")
	f.Add(appLoad, appLoad, fuzzSecret)
	f.Add(appLoad, appLoad+"&extra=1", fuzzSecret)
	f.Add("state=0.67+84&shop=a.myshopify.com", "state=0.67%2084&shop=a.myshopify.com", fuzzSecret)
	f.Add("a=1&b=2", "a=1%26b=2", "s")
	// The hmac of a base64 host with "+" (decoded form) verifies the
	// query with a space there (form-encoded): plusIsSpace.
	f.Add("host=YWJj%2BZGVm&shop=a.myshopify.com", "host=YWJj+ZGVm&shop=a.myshopify.com", "s")
	f.Fuzz(func(t *testing.T, signedRaw, presentedRaw, secret string) {
		signedQ, err := url.ParseQuery(signedRaw)
		if err != nil || secret == "" {
			return
		}
		signedQ.Del("hmac")
		mac, err := shopify.SignQuery(secret, signedQ)
		if err != nil {
			return // a repeated parameter: nothing is signed
		}
		withMAC := func(raw string) string {
			if raw == "" {
				return "hmac=" + mac
			}
			return raw + "&hmac=" + mac
		}
		// The signed query, encoded as Go (and Shopify) encode it, verifies.
		good := withMAC(signedQ.Encode())
		if !shopify.VerifyRawQuery(secret, good) {
			t.Fatalf("a signed query does not verify: %q", good)
		}
		if shopify.VerifyRawQuery(secret+"x", good) {
			t.Fatal("verified with another secret")
		}
		presented := withMAC(presentedRaw)
		if !shopify.VerifyRawQuery(secret, presented) {
			return
		}
		got, err := url.ParseQuery(presented)
		if err != nil {
			t.Fatalf("verified a query that does not parse: %q", presented)
		}
		got.Del("hmac")
		got.Del("signature")
		signedQ.Del("signature")
		if !reflect.DeepEqual(plusIsSpace(got), plusIsSpace(signedQ)) {
			t.Fatalf("forgery: the hmac of %v verified %v", signedQ, got)
		}
	})
}

// plusIsSpace reads "+" as a space in names and values. Shopify signs
// either the decoded values (its docs, its Ruby library) or the
// form-encoded ones (its JavaScript library), and Candor accepts both, so a
// "+" signed in one form reads as a space in the other. Shopify's own
// parameters (shop, timestamp, code, hmac, state, host, id_token) carry no
// space, so the swap changes none that Candor acts on.
func plusIsSpace(q url.Values) map[string][]string {
	out := map[string][]string{}
	for k, vs := range q {
		k = strings.ReplaceAll(k, "+", " ")
		for _, v := range vs {
			out[k] = append(out[k], strings.ReplaceAll(v, "+", " "))
		}
	}
	return out
}
