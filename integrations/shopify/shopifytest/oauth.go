package shopifytest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
)

// OAuth, webhook subscriptions and the orders search, as a public app sees
// them. Like Shopify, the authorize page checks client_id, redirect_uri and
// scopes; the token endpoint checks the client credentials and spends each
// code once. Expiring offline tokens follow Shopify's published contract:
//   - the access token lives an hour (TokenTTL; tests set seconds), then
//     the Admin API answers 401 with Shopify's invalid-token body (see
//     serve);
//   - the refresh token lives 90 days, and each refresh returns a new pair;
//   - a used refresh token stays usable until its replacement is used, for
//     at most 30 days after its first use; then it is retired.
// Sources: https://shopify.dev/docs/apps/build/security/credentials-and-data/use-expiring-offline-access-tokens
// ("An expiring offline access token lasts one hour ... Shopify replaces its
// refresh token every time your app uses it"),
// https://shopify.dev/changelog/offline-access-tokens-now-support-expiry-and-refresh
// (expires_in 3600, refresh_token, update stored tokens with the latest
// values), and
// https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens
// (2026-08-28: "an app can retry its previously stored refresh token until
// it starts using the replacement ... limited to 30 days from the original
// refresh token's first use and doesn't extend the token beyond its normal
// 90-day lifetime. When an app uses the replacement refresh token, the
// preceding refresh token is retired.")
//
// Uninstall revokes every token, as app/uninstalled does.

// App is the public app the stand-in knows.
type App struct {
	APIKey      string
	APISecret   string
	RedirectURI string // the one allowed redirection URL
}

type grant struct {
	online  bool // a code granted with grant_options[]=per-user
	scopes  []string
	expires time.Time // zero: never
	// Refresh tokens only: the refresh token whose use issued this one, and
	// when this one was first used.
	parent    string
	firstUsed time.Time
}

// Refresh token lifetimes, per the sources above.
const (
	refreshTokenLife = 90 * 24 * time.Hour
	refreshRetryLife = 30 * 24 * time.Hour
)

// EnableOAuth makes the stand-in serve OAuth for app. TokenTTL is how long
// an expiring access token lives (Shopify: one hour).
func (s *Store) EnableOAuth(app App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.app = &app
	if s.TokenTTL == 0 {
		s.TokenTTL = time.Hour
	}
}

// SetTokenTTL sets how long access tokens issued from now on live.
func (s *Store) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.TokenTTL = d
}

// SetTokenDelay makes the token endpoint take d to answer, as a slow
// network would; concurrent refreshes then overlap.
func (s *Store) SetTokenDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenDelay = d
}

// SetGrantScopes makes the merchant approve only these scopes (nil: what
// was asked).
func (s *Store) SetGrantScopes(scopes []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.grantScopes = scopes
}

// Authorize runs the install as a merchant would: it opens the authorize
// URL o builds for redirect and returns the authorization code the stand-in
// sends back to the app's callback. The app then exchanges it.
func (s *Store) Authorize(o shopify.OAuth, redirect string) (string, error) {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(o.AuthorizeURL(s.Shop, "state-"+randHex(8), redirect))
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("authorize: HTTP %d, no code in the redirect", resp.StatusCode)
	}
	return loc.Query().Get("code"), nil
}

// Uninstall revokes every access and refresh token the app holds, as
// Shopify does when the merchant uninstalls the app.
func (s *Store) Uninstall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens, s.refresh = map[string]grant{}, map[string]grant{}
}

// FailTokenEndpoint makes the next n token requests fail with status.
func (s *Store) FailTokenEndpoint(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n; i++ {
		s.tokenFail = append(s.tokenFail, status)
	}
}

// TokenValid reports whether an access token would be accepted now.
func (s *Store) TokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenValidLocked(tok)
}

func (s *Store) tokenValidLocked(tok string) bool {
	if tok == "" {
		return false
	}
	if tok == s.Token || s.others[tok] != nil {
		return true
	}
	g, ok := s.tokens[tok]
	return ok && (g.expires.IsZero() || s.now().Before(g.expires))
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var knownScopes = map[string]bool{"orders": true, "customers": true, "products": true, "fulfillments": true, "all_orders": true}

func (s *Store) authorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	app := s.app
	s.mu.Unlock()
	q := r.URL.Query()
	switch {
	case app == nil:
		http.Error(w, "this stand-in has no public app", http.StatusNotFound)
		return
	case q.Get("client_id") != app.APIKey:
		http.Error(w, "Oauth error invalid_request: Could not find Shopify API application with api_key", http.StatusBadRequest)
		return
	case q.Get("redirect_uri") != app.RedirectURI:
		http.Error(w, "Oauth error invalid_request: The redirect_uri is not whitelisted", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "Oauth error invalid_request: state is missing", http.StatusBadRequest)
		return
	}
	requested := shopify.SplitScopes(q.Get("scope"))
	for _, sc := range requested {
		_, res, ok := strings.Cut(sc, "_")
		if !ok || !knownScopes[res] || (!strings.HasPrefix(sc, "read_") && !strings.HasPrefix(sc, "write_")) {
			http.Error(w, "Oauth error invalid_scope: "+sc, http.StatusBadRequest)
			return
		}
	}
	// The merchant clicks Install.
	s.mu.Lock()
	granted := requested
	if s.grantScopes != nil {
		granted = s.grantScopes
	}
	code := randHex(16)
	s.codes[code] = grant{scopes: granted, expires: s.now().Add(10 * time.Minute), online: q.Get("grant_options[]") == "per-user"}
	shop := s.Shop
	s.mu.Unlock()
	back := url.Values{}
	back.Set("code", code)
	back.Set("host", base64.RawURLEncoding.EncodeToString([]byte("admin.shopify.com/store/"+strings.TrimSuffix(shop, ".myshopify.com"))))
	back.Set("shop", shop)
	back.Set("state", q.Get("state"))
	back.Set("timestamp", strconv.FormatInt(s.now().Unix(), 10))
	sig, _ := shopify.SignQuery(app.APISecret, back)
	back.Set("hmac", sig)
	http.Redirect(w, r, app.RedirectURI+"?"+back.Encode(), http.StatusFound)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// accessToken answers POST /admin/oauth/access_token. It is long on purpose:
// it is one check after another in the order the endpoint turns a request
// away (method, body, injected faults, client credentials, then the grant),
// kept in one piece so that order reads top to bottom.
func (s *Store) accessToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"errors": "method not allowed"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable body")
		return
	}
	p := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if json.Unmarshal(body, &p) != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "malformed JSON")
			return
		}
	} else {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
			return
		}
		for k := range v {
			p[k] = v.Get(k)
		}
	}
	s.mu.Lock()
	delay := s.tokenDelay
	h := s.holds["oauth/access_token"]
	delete(s.holds, "oauth/access_token")
	s.mu.Unlock()
	time.Sleep(delay)
	if h != nil { // HoldNext("oauth/access_token")
		close(h.reached)
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["oauth/access_token"]++
	if len(s.tokenFail) > 0 {
		status := s.tokenFail[0]
		s.tokenFail = s.tokenFail[1:]
		writeJSON(w, status, map[string]string{"errors": http.StatusText(status)})
		return
	}
	if s.app == nil || p["client_id"] != s.app.APIKey || p["client_secret"] != s.app.APISecret {
		oauthError(w, http.StatusBadRequest, "invalid_client", "client_id or client_secret is wrong")
		return
	}
	now := s.now()
	var scopes []string
	expiring := false
	parent := ""
	if p["grant_type"] == "refresh_token" {
		rt := p["refresh_token"]
		g, ok := s.refresh[rt]
		if !ok || now.After(g.expires) || (!g.firstUsed.IsZero() && now.After(g.firstUsed.Add(refreshRetryLife))) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token is unknown, retired or expired")
			return
		}
		// Using a replacement retires the refresh token it replaced.
		delete(s.refresh, g.parent)
		if g.firstUsed.IsZero() {
			g.firstUsed = now
		}
		g.parent = ""
		s.refresh[rt] = g
		s.calls["oauth/refresh"]++
		scopes, expiring, parent = g.scopes, true, rt
	} else {
		g, ok := s.codes[p["code"]]
		if !ok || now.After(g.expires) {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The authorization code was not found or was already used")
			return
		}
		delete(s.codes, p["code"]) // single use
		if g.online {
			s.onlineTokenLocked(w, g, now)
			return
		}
		scopes, expiring = g.scopes, p["expiring"] == "1"
	}
	tok := "shpua_" + randHex(16)
	resp := map[string]any{"access_token": tok, "scope": strings.Join(scopes, ",")}
	if expiring {
		ttl := s.TokenTTL
		s.tokens[tok] = grant{scopes: scopes, expires: now.Add(ttl)}
		rt := "shprt_" + randHex(16)
		s.refresh[rt] = grant{scopes: scopes, expires: now.Add(refreshTokenLife), parent: parent}
		resp["expires_in"] = int64(ttl / time.Second)
		resp["refresh_token"] = rt
		resp["refresh_token_expires_in"] = int64(refreshTokenLife / time.Second)
	} else {
		s.tokens[tok] = grant{scopes: scopes}
	}
	writeJSON(w, http.StatusOK, resp)
}

// Online access mode. A code granted with grant_options[]=per-user is
// exchanged, without "expiring", for an online token: it lives 24 hours, has
// no refresh token, and names the staff member who approved the grant in
// associated_user (with associated_user_scope, the scopes they hold). The
// stand-in's approver is always its account owner, Staff.
// https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/online-access-tokens
// https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant

// Staff is the stand-in's staff member who approves online grants: the
// store's owner, with personal data as a real one has.
var Staff = struct {
	ID                  int64
	FirstName, LastName string
	Email               string
}{ID: 902541635, FirstName: "Merle", LastName: "Haugen", Email: "merle.owner@example.com"}

const onlineTokenLife = 24*time.Hour - time.Second // Shopify answers expires_in 86399

func (s *Store) onlineTokenLocked(w http.ResponseWriter, g grant, now time.Time) {
	tok := "shpua_" + randHex(16)
	s.tokens[tok] = grant{scopes: g.scopes, expires: now.Add(onlineTokenLife)}
	s.calls["oauth/online"]++
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "scope": strings.Join(g.scopes, ","), "expires_in": int64(onlineTokenLife / time.Second),
		"associated_user_scope": strings.Join(g.scopes, ","),
		"associated_user": map[string]any{"id": Staff.ID, "first_name": Staff.FirstName, "last_name": Staff.LastName,
			"email": Staff.Email, "email_verified": true, "account_owner": true, "locale": "en", "collaborator": false},
	})
}

// Webhook subscriptions.

// topicScopes are the topics the stand-in knows, each with the access
// scope Shopify's webhook reference requires for it (a write_ scope covers
// its read_; "" needs none).
var topicScopes = map[string]string{
	"FULFILLMENTS_CREATE": "read_fulfillments", "FULFILLMENTS_UPDATE": "read_fulfillments",
	"ORDERS_FULFILLED": "read_orders", "ORDERS_CANCELLED": "read_orders", "ORDERS_CREATE": "read_orders",
	"ORDERS_UPDATED": "read_orders", "REFUNDS_CREATE": "read_orders", "CUSTOMERS_CREATE": "read_customers",
	"APP_UNINSTALLED": "",
}

// mayUseLocked reports whether tok carries scope. The store's own Token
// (a custom app's) carries every scope.
func (s *Store) mayUseLocked(tok, scope string) bool {
	if scope == "" || tok == s.Token {
		return true
	}
	for _, g := range s.tokens[tok].scopes {
		if g == scope || g == "write_"+strings.TrimPrefix(scope, "read_") {
			return true
		}
	}
	return false
}

type subscription struct {
	id     int64
	topic  string
	uri    string
	fields []string
}

// Subscriptions lists the app's webhook subscriptions, ordered by ID.
func (s *Store) Subscriptions() []shopify.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []shopify.Subscription
	for _, sub := range s.subsLocked() {
		out = append(out, shopify.Subscription{ID: subGID(sub.id), Topic: sub.topic, URI: sub.uri, IncludeFields: slices.Clone(sub.fields)})
	}
	return out
}

// AddSubscription adds a subscription directly, as an older version of the
// app (or a merchant's mistake) might have left it.
func (s *Store) AddSubscription(topic, uri string, fields []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSub++
	s.subs[s.nextSub] = &subscription{id: s.nextSub, topic: topic, uri: uri, fields: fields}
}

func (s *Store) subsLocked() []*subscription {
	out := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func subGID(id int64) string { return fmt.Sprintf("gid://shopify/WebhookSubscription/%d", id) }

var subGIDRe = regexp.MustCompile(`^gid://shopify/WebhookSubscription/(\d+)$`)

type userErr struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// subInput validates a WebhookSubscriptionInput as Shopify does.
func (s *Store) subInput(v any, topic string, self int64) (uri string, fields []string, errs []userErr) {
	m, _ := v.(map[string]any)
	uri, _ = m["uri"].(string)
	u, err := url.Parse(uri)
	switch {
	case err != nil || u.Host == "":
		errs = append(errs, userErr{[]string{"webhookSubscription", "uri"}, "Address is invalid"})
	case u.Scheme != "https" && !(u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost")):
		// Shopify delivers only over HTTPS; loopback is the stand-in's
		// allowance for local runs.
		errs = append(errs, userErr{[]string{"webhookSubscription", "uri"}, "Address protocol " + u.Scheme + ":// is not supported"})
	}
	if f, ok := m["format"].(string); ok && f != "JSON" && f != "XML" {
		errs = append(errs, userErr{[]string{"webhookSubscription", "format"}, "Format is invalid"})
	}
	raw, _ := m["includeFields"].([]any)
	for _, f := range raw {
		fs, ok := f.(string)
		if !ok || strings.TrimSpace(fs) == "" {
			errs = append(errs, userErr{[]string{"webhookSubscription", "includeFields"}, "Include fields are invalid"})
			break
		}
		fields = append(fields, fs)
	}
	for _, sub := range s.subs {
		if sub.id != self && sub.topic == topic && sub.uri == uri {
			errs = append(errs, userErr{[]string{"webhookSubscription", "uri"}, "Address for this topic has already been taken"})
		}
	}
	return uri, fields, errs
}

func (s *Store) webhookOp(op, tok string, vars map[string]any) (any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case "CandorWebhookSubscriptions":
		var nodes []any
		for _, sub := range s.subsLocked() {
			nodes = append(nodes, map[string]any{"id": subGID(sub.id), "topic": sub.topic, "uri": sub.uri, "includeFields": sub.fields})
		}
		if nodes == nil {
			nodes = []any{}
		}
		return map[string]any{"webhookSubscriptions": map[string]any{"nodes": nodes,
			"pageInfo": map[string]any{"hasNextPage": false, "endCursor": nil}}}, ""
	case "CandorWebhookSubscriptionCreate":
		topic, _ := vars["topic"].(string)
		scope, known := topicScopes[topic]
		if !known {
			return nil, "Variable $topic of type WebhookSubscriptionTopic! was provided invalid value"
		}
		uri, fields, errs := s.subInput(vars["sub"], topic, 0)
		if !s.mayUseLocked(tok, scope) {
			errs = append(errs, userErr{[]string{"topic"}, "Access denied for " + topic + ": the " + scope + " access scope is required"})
		}
		res := map[string]any{"webhookSubscription": nil, "userErrors": errs}
		if len(errs) == 0 {
			s.nextSub++
			s.subs[s.nextSub] = &subscription{id: s.nextSub, topic: topic, uri: uri, fields: fields}
			res["webhookSubscription"] = map[string]any{"id": subGID(s.nextSub)}
			res["userErrors"] = []userErr{}
		}
		return map[string]any{"webhookSubscriptionCreate": res}, ""
	case "CandorWebhookSubscriptionUpdate", "CandorWebhookSubscriptionDelete":
		id, _ := vars["id"].(string)
		m := subGIDRe.FindStringSubmatch(id)
		var sub *subscription
		if m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			sub = s.subs[n]
		}
		key := "webhookSubscriptionUpdate"
		if op == "CandorWebhookSubscriptionDelete" {
			key = "webhookSubscriptionDelete"
		}
		if sub == nil {
			return map[string]any{key: map[string]any{"userErrors": []userErr{{[]string{"id"}, "Webhook subscription does not exist"}}}}, ""
		}
		if op == "CandorWebhookSubscriptionDelete" {
			delete(s.subs, sub.id)
			return map[string]any{key: map[string]any{"deletedWebhookSubscriptionId": id, "userErrors": []userErr{}}}, ""
		}
		uri, fields, errs := s.subInput(vars["sub"], sub.topic, sub.id)
		if len(errs) > 0 {
			return map[string]any{key: map[string]any{"webhookSubscription": nil, "userErrors": errs}}, ""
		}
		sub.uri, sub.fields = uri, fields
		return map[string]any{key: map[string]any{"webhookSubscription": map[string]any{"id": id}, "userErrors": []userErr{}}}, ""
	}
	return nil, "unknown operation " + op
}

// The orders search reconciliation uses.

var updatedSinceRe = regexp.MustCompile(`^updated_at:>='([^']+)' AND \(fulfillment_status:shipped OR fulfillment_status:partial\)$`)

// fulfilledOrders answers the search with pages of the sizes the query
// asks for: ordersFirst orders, each with its first itemsFirst line items.
func (s *Store) fulfilledOrders(vars map[string]any, ordersFirst, itemsFirst int) (any, string) {
	qs, _ := vars["query"].(string)
	m := updatedSinceRe.FindStringSubmatch(qs)
	if m == nil {
		return nil, "this stand-in answers only Candor's fulfilled-orders search, got " + strconv.Quote(qs)
	}
	since, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		return nil, "invalid updated_at in search"
	}
	start := 0
	if after, ok := vars["after"].(string); ok && after != "" {
		if start, err = strconv.Atoi(after); err != nil {
			return nil, "invalid cursor"
		}
	}
	s.mu.Lock()
	var match []Order
	for _, o := range s.orders {
		if o.Fulfilled && !o.UpdatedAt.Before(since) {
			match = append(match, o)
		}
	}
	s.mu.Unlock()
	sort.Slice(match, func(i, j int) bool {
		if !match[i].UpdatedAt.Equal(match[j].UpdatedAt) {
			return match[i].UpdatedAt.Before(match[j].UpdatedAt)
		}
		return match[i].ID < match[j].ID
	})
	end := min(start+ordersFirst, len(match))
	nodes := []any{}
	for _, o := range match[min(start, end):end] {
		var cancelledAt any
		if o.Cancelled {
			cancelledAt = "2026-01-02T03:04:05Z"
		}
		nodes = append(nodes, map[string]any{"id": shopify.OrderGID(o.ID), "name": o.Name, "cancelledAt": cancelledAt,
			"lineItems": lineItemsPage(o, 0, itemsFirst)})
	}
	return map[string]any{"orders": map[string]any{"nodes": nodes,
		"pageInfo": map[string]any{"hasNextPage": end < len(match), "endCursor": strconv.Itoa(end)}}}, ""
}
