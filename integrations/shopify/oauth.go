package shopify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scopes are the access scopes Candor asks a merchant for, and no more:
//
//   - read_orders: the order status and recipient reads in the send activity,
//     the reconciliation's orders query, and the orders/* and refunds/create
//     webhook topics.
//   - read_fulfillments: the fulfillments/create and fulfillments/update
//     topics, which Shopify's webhook reference lists under this scope, not
//     read_orders.
//   - read_customers: customer.id and defaultEmailAddress (marketing consent
//     and the address, read just in time) in the send activity.
//   - read_products: lineItems.product { id handle } for the review links.
//
// Nothing is written to the shop, so there is no write_ scope.
var Scopes = []string{"read_orders", "read_fulfillments", "read_customers", "read_products"}

// OAuth is a public app's side of Shopify's authorization code grant:
// the authorize redirect, the code exchange and the refresh of expiring
// offline tokens. go-shopify's GetAccessToken neither asks for nor returns
// expiring tokens, so the exchange is ours.
type OAuth struct {
	APIKey    string // client_id
	APISecret string // client_secret
	// BaseURL sends the authorize redirect and the token endpoint to
	// {BaseURL}/admin/oauth/… instead of https://{shop}/admin/oauth/…
	// (CANDOR_SHOPIFY_BASE_URL, for the stand-in).
	BaseURL string
	HTTP    *http.Client
}

// Configured reports whether the app has credentials for OAuth installs.
func (o OAuth) Configured() bool { return o.APIKey != "" && o.APISecret != "" }

func (o OAuth) endpoint(shop, path string) string {
	if o.BaseURL != "" {
		return strings.TrimRight(o.BaseURL, "/") + path
	}
	return "https://" + shop + path
}

// AuthorizeURL is where the merchant approves Candor's scopes. No
// grant_options[]=per-user: Candor needs an offline token.
func (o OAuth) AuthorizeURL(shop, state, redirectURI string) string {
	q := url.Values{}
	q.Set("client_id", o.APIKey)
	q.Set("scope", strings.Join(Scopes, ","))
	q.Set("redirect_uri", redirectURI)
	q.Set("state", state)
	return o.endpoint(shop, "/admin/oauth/authorize") + "?" + q.Encode()
}

// LoginURL is AuthorizeURL in online (per-user) access mode. Candor signs
// a merchant in this way when they open the app from the Shopify admin: the
// signed app load proves only that Shopify sent the request, not who holds
// the browser, so it is no login. Shopify approves an online grant for the
// staff member logged in to the admin in this browser, and the code's
// exchange names them (ExchangeOnline). For an installed app Shopify asks
// nothing and redirects straight back.
// https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/online-access-tokens
// ("Online access is meant to be used when a user is interacting with your
// app through the web"), and the grant_options[]=per-user parameter of
// https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
func (o OAuth) LoginURL(shop, state, redirectURI string) string {
	return o.AuthorizeURL(shop, state, redirectURI) + "&" + url.Values{"grant_options[]": {"per-user"}}.Encode()
}

// MaxQueryHMACAge is how old a signed query (OAuth callback, app load) may
// be; it bounds replays of a leaked URL.
const MaxQueryHMACAge = 5 * time.Minute

// QueryMessage is the message Shopify signs for a query: every parameter
// except hmac (and the legacy signature), sorted by name, as name=value
// joined with &. In names, % & and = are percent-encoded; in values, % and
// &, so that no parameter can be made to look like two.
func QueryMessage(q url.Values) (string, error) {
	keys, err := signedNames(q)
	if err != nil {
		return "", err
	}
	kr := strings.NewReplacer("%", "%25", "&", "%26", "=", "%3D")
	vr := strings.NewReplacer("%", "%25", "&", "%26")
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kr.Replace(k))
		b.WriteByte('=')
		b.WriteString(vr.Replace(q.Get(k)))
	}
	return b.String(), nil
}

// signedNames are the names of the parameters a query's hmac covers: all
// but hmac and the legacy signature, sorted.
func signedNames(q url.Values) ([]string, error) {
	keys := make([]string, 0, len(q))
	for k, vs := range q {
		if k == "hmac" || k == "signature" {
			continue
		}
		if len(vs) != 1 {
			// Shopify never repeats a parameter in these URLs; a repeat
			// would make the message ambiguous.
			return nil, fmt.Errorf("parameter %q is repeated", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// SignQuery returns the hex HMAC-SHA256 Shopify puts in a query's hmac
// parameter. The stand-in signs with it; Candor verifies with VerifyQuery.
func SignQuery(secret string, q url.Values) (string, error) {
	msg, err := QueryMessage(q)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// VerifyQuery checks a query's hmac parameter in constant time over the
// decoded values (QueryMessage). It is false for an empty secret, a missing,
// repeated or non-hex hmac, or any repeated parameter. Requests from a
// browser should use VerifyRawQuery, which also accepts the encoded form.
func VerifyQuery(secret string, q url.Values) bool {
	msg, err := QueryMessage(q)
	return err == nil && verifyQueryMAC(secret, q, msg)
}

// VerifyRawQuery checks the hmac of a raw query string. Shopify's own
// libraries disagree on what is signed: its docs and Ruby library sign the
// decoded values (QueryMessage); its JavaScript library signs the values
// form-encoded as URLSearchParams writes them
// (https://github.com/Shopify/shopify-api-js, lib/utils/hmac-validator.ts,
// stringifyQuery). A value that needs encoding (a base64 host with "=", a
// space) tells them apart, so each form is accepted, and so is the query as
// it came, in name order. Each is an unambiguous encoding of the same
// parameters, so accepting any of them lets nothing else through.
func VerifyRawQuery(secret, raw string) bool {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return false
	}
	if VerifyQuery(secret, q) {
		return true
	}
	asSent, ok := rawQueryMessage(raw)
	if ok && verifyQueryMAC(secret, q, asSent) {
		return true
	}
	encoded, ok := formQueryMessage(q)
	return ok && verifyQueryMAC(secret, q, encoded)
}

// verifyQueryMAC compares q's hmac with the HMAC of msg in constant time.
func verifyQueryMAC(secret string, q url.Values, msg string) bool {
	if secret == "" || len(q["hmac"]) != 1 {
		return false
	}
	got, err := hex.DecodeString(q.Get("hmac"))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hmac.Equal(got, m.Sum(nil))
}

// rawQueryMessage is the query's parameters as they came, still encoded,
// without hmac and signature, sorted by decoded name and joined with &.
func rawQueryMessage(raw string) (string, bool) {
	type pair struct{ name, text string }
	var pairs []pair
	seen := map[string]bool{}
	for _, text := range strings.Split(raw, "&") {
		if text == "" {
			continue
		}
		k, _, _ := strings.Cut(text, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || seen[name] {
			return "", false
		}
		seen[name] = true
		if name != "hmac" && name != "signature" {
			pairs = append(pairs, pair{name, text})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].name < pairs[j].name })
	texts := make([]string, len(pairs))
	for i, p := range pairs {
		texts[i] = p.text
	}
	return strings.Join(texts, "&"), true
}

// formQueryMessage is the query without hmac and signature, sorted by name
// and form-encoded as URLSearchParams.toString() does (WHATWG URL standard,
// application/x-www-form-urlencoded serializer).
func formQueryMessage(q url.Values) (string, bool) {
	keys, err := signedNames(q)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(formEncode(k))
		b.WriteByte('=')
		b.WriteString(formEncode(q.Get(k)))
	}
	return b.String(), true
}

func formEncode(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('+')
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdigits[c>>4])
			b.WriteByte(hexdigits[c&15])
		}
	}
	return b.String()
}

// FreshTimestamp reports whether a signed query's timestamp (Unix seconds)
// is within MaxQueryHMACAge of now, in either direction.
func FreshTimestamp(ts string, now time.Time) bool {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := now.Sub(time.Unix(sec, 0))
	return d < MaxQueryHMACAge && d > -MaxQueryHMACAge
}

// Token is what the token endpoint grants. ExpiresAt is zero for a
// non-expiring token (custom apps, older public apps).
type Token struct {
	AccessToken      string
	Scopes           []string
	ExpiresAt        time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// tokenResponse is the token endpoint's JSON.
type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	Scope                 string `json:"scope"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshToken          string `json:"refresh_token"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`
}

// ErrGrantRejected means Shopify refused the code or refresh token: used,
// expired, revoked, or issued to another app. Retrying will not help.
var ErrGrantRejected = errors.New("shopify refused the grant")

// Exchange trades an authorization code for an expiring offline token.
func (o OAuth) Exchange(ctx context.Context, shop, code string, now time.Time) (Token, error) {
	if code == "" || len(code) > 512 {
		return Token{}, fmt.Errorf("%w: missing or oversized code", ErrGrantRejected)
	}
	return o.token(ctx, shop, "exchange code", map[string]string{
		"client_id": o.APIKey, "client_secret": o.APISecret, "code": code, "expiring": "1",
	}, now)
}

// Refresh trades a refresh token for a new access token and a new refresh
// token; Shopify retires the old refresh token once the new one is used.
func (o OAuth) Refresh(ctx context.Context, shop, refreshToken string, now time.Time) (Token, error) {
	return o.token(ctx, shop, "refresh token", map[string]string{
		"client_id": o.APIKey, "client_secret": o.APISecret,
		"grant_type": "refresh_token", "refresh_token": refreshToken,
	}, now)
}

func (o OAuth) token(ctx context.Context, shop, op string, params map[string]string, now time.Time) (Token, error) {
	raw, err := o.post(ctx, shop, op, params)
	if err != nil {
		return Token{}, err
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil || tr.AccessToken == "" {
		return Token{}, &Error{Op: op, Status: http.StatusOK, Retryable: true, Reason: "undecodable response"}
	}
	t := Token{AccessToken: tr.AccessToken, Scopes: SplitScopes(tr.Scope), RefreshToken: tr.RefreshToken}
	if tr.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	if tr.RefreshTokenExpiresIn > 0 {
		t.RefreshExpiresAt = now.Add(time.Duration(tr.RefreshTokenExpiresIn) * time.Second)
	}
	if !t.ExpiresAt.IsZero() && t.RefreshToken == "" {
		return Token{}, &Error{Op: op, Reason: "expiring token without a refresh token"}
	}
	return t, nil
}

// OnlineGrant is what an online-mode code exchange proves: the Shopify
// staff member who approved it, in this browser. Candor reads only their
// user ID from the answer (not their name or email), keeps none of it, and
// does not use the online access token.
type OnlineGrant struct {
	UserID int64
}

// ExchangeOnline trades the code of a LoginURL grant for its online token,
// and returns whom Shopify issued it to. An answer without an
// associated_user is not an online grant and is refused.
func (o OAuth) ExchangeOnline(ctx context.Context, shop, code string) (OnlineGrant, error) {
	const op = "exchange online code"
	if code == "" || len(code) > 512 {
		return OnlineGrant{}, fmt.Errorf("%w: missing or oversized code", ErrGrantRejected)
	}
	raw, err := o.post(ctx, shop, op, map[string]string{"client_id": o.APIKey, "client_secret": o.APISecret, "code": code})
	if err != nil {
		return OnlineGrant{}, err
	}
	var tr struct {
		AccessToken    string `json:"access_token"`
		AssociatedUser *struct {
			ID int64 `json:"id"`
		} `json:"associated_user"`
	}
	if err := json.Unmarshal(raw, &tr); err != nil || tr.AccessToken == "" {
		return OnlineGrant{}, &Error{Op: op, Status: http.StatusOK, Retryable: true, Reason: "undecodable response"}
	}
	if tr.AssociatedUser == nil || tr.AssociatedUser.ID <= 0 {
		return OnlineGrant{}, &Error{Op: op, Status: http.StatusOK, Reason: "not an online grant: no associated_user"}
	}
	return OnlineGrant{UserID: tr.AssociatedUser.ID}, nil
}

// post sends params to the token endpoint and returns the body of a 200.
func (o OAuth) post(ctx context.Context, shop, op string, params map[string]string) ([]byte, error) {
	if !ValidShopDomain(shop) {
		return nil, fmt.Errorf("shop %q is not a *.myshopify.com domain", shop)
	}
	if !o.Configured() {
		return nil, errors.New("SHOPIFY_API_KEY and SHOPIFY_API_SECRET are needed for OAuth")
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint(shop, "/admin/oauth/access_token"), strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &Error{Op: op, Retryable: true, Reason: "network error"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, &Error{Op: op, Status: resp.StatusCode, Retryable: true, Reason: "unreadable response"}
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// The body names the reason, but it is Shopify's text: not echoed.
		return nil, fmt.Errorf("%w (%s: HTTP %d)", ErrGrantRejected, op, resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, &Error{Op: op, Status: resp.StatusCode, Retryable: true, Reason: "Shopify unavailable"}
	case resp.StatusCode != http.StatusOK:
		return nil, &Error{Op: op, Status: resp.StatusCode, Reason: "request rejected"}
	}
	return raw, nil
}

// SplitScopes parses Shopify's comma-separated scope list.
func SplitScopes(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// MissingScopes lists the scopes in Scopes that granted does not cover. A
// write_ scope covers its read_ scope, as in Shopify.
func MissingScopes(granted []string) []string {
	have := map[string]bool{}
	for _, g := range granted {
		have[g] = true
		if r, ok := strings.CutPrefix(g, "write_"); ok {
			have["read_"+r] = true
		}
	}
	var missing []string
	for _, s := range Scopes {
		if !have[s] {
			missing = append(missing, s)
		}
	}
	return missing
}
