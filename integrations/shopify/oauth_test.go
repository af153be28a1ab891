package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	goshopify "github.com/bold-commerce/go-shopify/v4"
)

// Shopify's documented example: secret "hush" and this callback query.
const docQuery = "code=0907a61c0c8d55e99db179b68161bc00&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173"

func TestVerifyQuery_MatchesShopifysDocumentedExample(t *testing.T) {
	q, _ := url.ParseQuery(docQuery)
	if !VerifyQuery("hush", q) {
		t.Fatal("Shopify's documented example does not verify")
	}
	sig, err := SignQuery("hush", q)
	if err != nil || sig != q.Get("hmac") {
		t.Fatalf("SignQuery = %s, %v", sig, err)
	}
	// An independent implementation agrees.
	u, _ := url.Parse("https://candor.example/shopify/callback?" + docQuery)
	if ok, err := (goshopify.App{ApiSecret: "hush"}).VerifyAuthorizationURL(u); !ok || err != nil {
		t.Fatalf("go-shopify disagrees: %v %v", ok, err)
	}
}

func TestVerifyQuery_RefusesTamperingAndAmbiguity(t *testing.T) {
	base, _ := url.ParseQuery(docQuery)
	mod := func(f func(q url.Values)) url.Values {
		q := url.Values{}
		for k, v := range base {
			q[k] = slices.Clone(v)
		}
		f(q)
		return q
	}
	for name, c := range map[string]struct {
		secret string
		q      url.Values
	}{
		"empty secret":   {"", base},
		"other secret":   {"hush2", base},
		"missing hmac":   {"hush", mod(func(q url.Values) { q.Del("hmac") })},
		"empty hmac":     {"hush", mod(func(q url.Values) { q.Set("hmac", "") })},
		"shop changed":   {"hush", mod(func(q url.Values) { q.Set("shop", "evil.myshopify.com") })},
		"param added":    {"hush", mod(func(q url.Values) { q.Set("extra", "1") })},
		"param dropped":  {"hush", mod(func(q url.Values) { q.Del("state") })},
		"repeated param": {"hush", mod(func(q url.Values) { q.Add("shop", "some-shop.myshopify.com") })},
		"repeated hmac":  {"hush", mod(func(q url.Values) { q.Add("hmac", q.Get("hmac")) })},
		"base64 not hex": {"hush", mod(func(q url.Values) { q.Set("hmac", "cA4trbgn/Mhgnp1c4giy6c2qud8HOQ0svKENfDKPxL8=") })},
		"truncated":      {"hush", mod(func(q url.Values) { q.Set("hmac", q.Get("hmac")[:40]) })},
		// "a=1&b=2" must not verify as "a=1%26b=2": & in values is escaped.
		"value smuggling": {"hush", mod(func(q url.Values) { q.Del("state"); q.Set("shop", "some-shop.myshopify.com&state=0.6784241404160823") })},
	} {
		if VerifyQuery(c.secret, c.q) {
			t.Errorf("%s: verified", name)
		}
	}
	up := mod(func(q url.Values) { q.Set("hmac", strings.ToUpper(q.Get("hmac"))) })
	if !VerifyQuery("hush", up) {
		t.Error("upper-case hex refused (hex decoding is case-insensitive)")
	}
}

func TestFreshTimestamp(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for ts, want := range map[string]bool{
		"1800000000": true, "1799999760": true, "1800000200": true,
		"1799999000": false, "1800001000": false, "": false, "abc": false, "1.8e9": false,
	} {
		if got := FreshTimestamp(ts, now); got != want {
			t.Errorf("FreshTimestamp(%q) = %v", ts, got)
		}
	}
}

func TestMissingScopes_WriteCoversRead(t *testing.T) {
	if m := MissingScopes(SplitScopes("read_orders,write_fulfillments,write_customers, read_products")); len(m) != 0 {
		t.Fatalf("missing %v", m)
	}
	if m := MissingScopes(SplitScopes("read_orders")); !slices.Equal(m, []string{"read_fulfillments", "read_customers", "read_products"}) {
		t.Fatalf("missing %v", m)
	}
	if m := MissingScopes(nil); len(m) != len(Scopes) {
		t.Fatalf("missing %v", m)
	}
}

func TestAuthorizeURL_UsesBaseURLOverride(t *testing.T) {
	o := OAuth{APIKey: "key", APISecret: "s"}
	u, _ := url.Parse(o.AuthorizeURL("a.myshopify.com", "st", "https://c.example/shopify/callback"))
	if u.Host != "a.myshopify.com" || u.Path != "/admin/oauth/authorize" || u.Query().Get("client_id") != "key" ||
		u.Query().Get("scope") != "read_orders,read_fulfillments,read_customers,read_products" || u.Query().Get("state") != "st" ||
		u.Query().Has("grant_options[]") {
		t.Fatalf("authorize URL %s", u)
	}
	o.BaseURL = "http://127.0.0.1:9/"
	if got := o.AuthorizeURL("a.myshopify.com", "st", "r"); !strings.HasPrefix(got, "http://127.0.0.1:9/admin/oauth/authorize?") {
		t.Fatalf("override ignored: %s", got)
	}
}

// jsonFields lists the JSON names a struct decodes, nested with dots,
// skipping the presence-only PersonalFields and the customer object, which
// are deliberately not subscribed to.
func jsonFields(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous || f.Name == "Customer" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, jsonFields(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// The include_fields must carry every field intake parses, or intake would
// reject Shopify's own deliveries as malformed.
func TestSubscriptionFields_CoverWhatIntakeParses(t *testing.T) {
	parsed := map[string]reflect.Type{
		TopicFulfillmentCreate: reflect.TypeOf(Fulfillment{}),
		TopicFulfillmentUpdate: reflect.TypeOf(Fulfillment{}),
		TopicOrderFulfilled:    reflect.TypeOf(Order{}),
		TopicRefundCreate:      reflect.TypeOf(Refund{}),
	}
	if got := jsonFields(reflect.TypeOf(Fulfillment{}), ""); !slices.Contains(got, "line_items.product_id") || !slices.Contains(got, "shipment_status") {
		t.Fatalf("field walk is broken: %v", got)
	}
	for topic, typ := range parsed {
		for _, f := range jsonFields(typ, "") {
			if !slices.Contains(SubscriptionFields[topic], f) {
				t.Errorf("%s: intake reads %s, which is not in include_fields", topic, f)
			}
		}
	}
	for topic, fields := range SubscriptionFields {
		for _, f := range fields {
			for _, pii := range []string{"email", "phone", "customer", "destination", "address", "name."} {
				if strings.Contains(f, pii) {
					t.Errorf("%s subscribes to %s", topic, f)
				}
			}
		}
	}
	if GraphQLTopic(TopicFulfillmentCreate) != "FULFILLMENTS_CREATE" || GraphQLTopic(TopicAppUninstalled) != "APP_UNINSTALLED" {
		t.Fatal("topic enum")
	}
}

// Shopify's JavaScript library signs the query form-encoded (URLSearchParams),
// its docs and Ruby library the decoded values. A base64 host ending in "="
// and a value with a space tell the two apart; both must verify, and
// neither may let a changed query through.
func TestVerifyRawQuery_AcceptsTheEncodedAndTheDecodedForm(t *testing.T) {
	const (
		secret = "hush"
		host   = "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYQ=="
		// Written out by hand, as URLSearchParams.toString() gives it.
		encodedMsg = "code=0907a61c0c8d55e99db179b68161bc00&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYQ%3D%3D&shop=some-shop.myshopify.com&state=0.67+84&timestamp=1337178173"
	)
	q := url.Values{"code": {"0907a61c0c8d55e99db179b68161bc00"}, "host": {host}, "shop": {"some-shop.myshopify.com"},
		"state": {"0.67 84"}, "timestamp": {"1337178173"}}
	mac := func(msg string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	jsSigned := q.Encode() + "&hmac=" + mac(encodedMsg)
	decodedSig, _ := SignQuery(secret, q)
	rubySigned := q.Encode() + "&hmac=" + decodedSig

	if p, _ := url.ParseQuery(jsSigned); VerifyQuery(secret, p) {
		t.Fatal("the encoded form verifies as the decoded one: the test cannot tell them apart")
	}
	for name, raw := range map[string]string{"encoded (JavaScript library)": jsSigned, "decoded (docs, Ruby library)": rubySigned} {
		if !VerifyRawQuery(secret, raw) {
			t.Errorf("%s: refused", name)
		}
		for change, bad := range map[string]string{
			"shop changed":   strings.Replace(raw, "shop=some-shop", "shop=evil-shop", 1),
			"host changed":   strings.Replace(raw, "YQ%3D%3D", "Yg%3D%3D", 1),
			"param added":    raw + "&extra=1",
			"param repeated": raw + "&shop=some-shop.myshopify.com",
			"hmac repeated":  raw + "&hmac=" + decodedSig,
		} {
			if bad == raw {
				t.Fatalf("%s / %s changed nothing", name, change)
			}
			if VerifyRawQuery(secret, bad) {
				t.Errorf("%s, %s: verified", name, change)
			}
		}
		if VerifyRawQuery("", raw) || VerifyRawQuery("other", raw) {
			t.Errorf("%s: verified with the wrong secret", name)
		}
	}
	// The query exactly as a sender encoded it also verifies.
	asSent := "code=0907a61c0c8d55e99db179b68161bc00&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvYQ%3d%3d&shop=some-shop.myshopify.com&state=0.67%2084&timestamp=1337178173"
	if !VerifyRawQuery(secret, asSent+"&hmac="+mac(asSent)) {
		t.Error("the query as sent (lower-case escapes, %20) is refused")
	}
	if VerifyRawQuery(secret, "shop=a.myshopify.com&hmac="+mac("shop=a.myshopify.com")+"&x=%zz") {
		t.Error("a query that does not parse verified")
	}
}
