package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	goshopify "github.com/bold-commerce/go-shopify/v4"

	"github.com/candorhq/candor/pacing"
)

// Admin reads from one shop's Admin GraphQL API.
type Admin struct {
	client *goshopify.Client
	shop   string
	pace   *pacing.Limiter
}

// AdminConfig says how to reach Shopify.
type AdminConfig struct {
	APIVersion string
	// BaseURL, when set, replaces https://{shop} (CANDOR_SHOPIFY_BASE_URL),
	// so Admin calls go to a local stand-in.
	BaseURL string
	Timeout time.Duration
	// Pace, when set, keeps each shop's calls within its query-cost
	// budget across every process (package pacing): a query waits for
	// its points before it is sent, and the bucket follows the
	// throttleStatus Shopify reports.
	Pace *pacing.Limiter
	// Wrap, when set, wraps the transport of every Admin call (tracing).
	Wrap func(http.RoundTripper) http.RoundTripper
}

// NewAdmin builds a client for shop with its access token. go-shopify's own
// retries are off (they sleep without honouring the context): a THROTTLED
// answer is waited out in query, within the context, and anything else
// retryable is left to Temporal's activity retries, with the Retry-After
// Shopify returns.
func NewAdmin(cfg AdminConfig, shop, token string) (*Admin, error) {
	if !ValidShopDomain(shop) {
		return nil, fmt.Errorf("shop %q is not a *.myshopify.com domain", shop)
	}
	if token == "" {
		return nil, errors.New("shop has no access token")
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	hc := &http.Client{Timeout: timeout}
	if cfg.BaseURL != "" {
		base, err := url.Parse(cfg.BaseURL)
		if err != nil || base.Host == "" {
			return nil, fmt.Errorf("CANDOR_SHOPIFY_BASE_URL is not a URL")
		}
		hc.Transport = rebase{base: base, next: http.DefaultTransport}
	}
	if cfg.Wrap != nil {
		hc.Transport = cfg.Wrap(hc.Transport)
	}
	c, err := goshopify.NewClient(goshopify.App{}, shop, token,
		goshopify.WithVersion(cfg.APIVersion),
		goshopify.WithHTTPClient(hc),
		goshopify.WithLogger(silent{}), // go-shopify logs bodies; they hold customer data
	)
	if err != nil {
		return nil, err
	}
	return &Admin{client: c, shop: shop, pace: cfg.Pace}, nil
}

// rebase sends requests for https://{shop}/admin/... to {base}/admin/...,
// keeping the path, so a stand-in sees exactly what Shopify would.
type rebase struct {
	base *url.URL
	next http.RoundTripper
}

func (r rebase) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme = r.base.Scheme
	req.URL.Host = r.base.Host
	req.URL.Path = strings.TrimRight(r.base.Path, "/") + req.URL.Path
	req.Host = r.base.Host
	return r.next.RoundTrip(req)
}

// Error is a Shopify failure, classified. Its message never carries a
// response body, which could echo customer data.
type Error struct {
	Op         string
	Status     int           // HTTP status, 0 for transport errors
	Code       string        // the GraphQL error code (CodeThrottled, ...), if any
	Retryable  bool          // worth trying again
	RetryAfter time.Duration // Shopify's Retry-After, or the wait its throttle status implies
	Reason     string
}

func (e *Error) Error() string {
	s := "shopify " + e.Op + ": " + e.Reason
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	return s
}

// classify turns a go-shopify or transport error into an *Error.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var rl goshopify.RateLimitError
	if errors.As(err, &rl) {
		wait := time.Duration(rl.RetryAfter) * time.Second
		if wait <= 0 {
			wait = 2 * time.Second
		}
		return &Error{Op: op, Status: rl.Status, Retryable: true, RetryAfter: wait, Reason: "rate limited"}
	}
	var re goshopify.ResponseError
	if errors.As(err, &re) {
		e := &Error{Op: op, Status: re.Status}
		switch {
		case re.Status == http.StatusUnauthorized || re.Status == http.StatusForbidden:
			e.Reason = "access token rejected or scope missing"
		case re.Status == http.StatusNotFound:
			e.Reason = "not found (shop or API version)"
		case re.Status == http.StatusPaymentRequired || re.Status == http.StatusLocked:
			e.Reason = "shop is frozen or locked"
		case re.Status >= 500 || re.Status == http.StatusRequestTimeout:
			e.Reason, e.Retryable = "Shopify unavailable", true
		default:
			e.Reason = "request rejected"
		}
		return e
	}
	var de goshopify.ResponseDecodingError
	if errors.As(err, &de) {
		return &Error{Op: op, Status: de.Status, Retryable: true, Reason: "undecodable response"}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Op: op, Retryable: true, Reason: "network error"}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &Error{Op: op, Retryable: true, Reason: "network error"}
	}
	return &Error{Op: op, Retryable: true, Reason: "unexpected error"}
}

// GraphQL error codes Shopify answers with HTTP 200
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits).
const (
	// CodeMaxCostExceeded: the query asks for more than the single-query
	// maximum (1,000 points). The same query always fails: it is a bug in
	// Candor's query, not a passing condition.
	CodeMaxCostExceeded = "MAX_COST_EXCEEDED"
	// CodeThrottled: the shop's cost bucket holds less than the query
	// costs. It refills at throttleStatus.restoreRate points a second.
	CodeThrottled = "THROTTLED"
)

// maxThrottleWaits bounds how often one call waits out THROTTLED before it
// hands the wait to Temporal's retry.
const maxThrottleWaits = 5

type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// gqlResponse is a GraphQL answer: data, errors with their codes, and the
// query's cost with the bucket's state.
type gqlResponse struct {
	Data   any `json:"data"`
	Errors []struct {
		Extensions struct {
			Code string `json:"code"`
			// MAX_COST_EXCEEDED carries the requested cost and the maximum.
			Cost    json.RawMessage `json:"cost"`
			MaxCost json.RawMessage `json:"maxCost"`
		} `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost struct {
			RequestedQueryCost float64  `json:"requestedQueryCost"`
			ActualQueryCost    *float64 `json:"actualQueryCost"` // null when throttled
			ThrottleStatus     struct {
				MaximumAvailable   float64 `json:"maximumAvailable"`
				CurrentlyAvailable float64 `json:"currentlyAvailable"`
				RestoreRate        float64 `json:"restoreRate"`
			} `json:"throttleStatus"`
		} `json:"cost"`
	} `json:"extensions"`
}

var opNameRe = regexp.MustCompile(`^\s*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)`)

// OperationName is the name of the GraphQL operation in doc, for errors
// and logs: "CandorFulfilledOrders".
func OperationName(doc string) string {
	if m := opNameRe.FindStringSubmatch(doc); m != nil {
		return m[1]
	}
	return "(anonymous)"
}

// query runs one GraphQL document and decodes its data into resp. op says
// what Candor was doing, for the error. A THROTTLED answer is waited out
// for as long as Shopify's throttle status says the bucket needs to refill,
// then the query is sent again, as long as the context allows; past that,
// the error is retryable with that wait. MAX_COST_EXCEEDED is final and
// names the query, since sending it again can only fail again.
func (a *Admin) query(ctx context.Context, op, doc string, vars map[string]any, resp any) error {
	name := OperationName(doc)
	for waits := 0; ; waits++ {
		reserved, err := a.reserve(ctx, op, name)
		if err != nil {
			return err
		}
		gr := gqlResponse{Data: resp}
		if err := a.client.Post(ctx, "graphql.json", gqlRequest{Query: doc, Variables: vars}, &gr); err != nil {
			return classify(op, err)
		}
		a.observe(ctx, name, reserved, gr)
		if len(gr.Errors) == 0 {
			return nil
		}
		code := ""
		for _, e := range gr.Errors {
			if e.Extensions.Code != "" {
				code = e.Extensions.Code
			}
			if code == CodeMaxCostExceeded {
				return &Error{Op: op, Status: http.StatusOK, Code: code, Reason: fmt.Sprintf(
					"query %s requests %s points, over Shopify's single-query maximum of %s",
					OperationName(doc), number(e.Extensions.Cost), number(e.Extensions.MaxCost))}
			}
		}
		if code != CodeThrottled {
			// Query errors: retrying the same query will not help.
			return &Error{Op: op, Status: http.StatusOK, Code: code, Reason: "GraphQL error"}
		}
		wait := restoreWait(gr.Extensions.Cost.RequestedQueryCost, gr.Extensions.Cost.ThrottleStatus.CurrentlyAvailable,
			gr.Extensions.Cost.ThrottleStatus.RestoreRate)
		throttled := &Error{Op: op, Status: http.StatusOK, Code: code, Retryable: true, RetryAfter: wait,
			Reason: "throttled: the shop's query cost bucket is empty"}
		if deadline, ok := ctx.Deadline(); waits >= maxThrottleWaits || ok && time.Until(deadline) < wait {
			return throttled
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return throttled
		case <-t.C:
		}
	}
}

// Shopify's query-cost budget, paced (AdminConfig.Pace). Shopify charges a
// query its requested cost before it runs and refunds what it did not use
// (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits), so
// a query reserves the requested cost Shopify last reported for its
// operation, and the bucket takes Shopify's throttleStatus after each answer.
var (
	// defaultBudget is the Standard plan's, until Shopify reports the
	// shop's own: a bucket of 2,000 points refilled at 100 a second.
	defaultBudget = pacing.Budget{Capacity: 2000, Rate: 100}
	// firstEstimate is reserved for an operation whose cost this process
	// has not seen yet.
	firstEstimate = 200.0
	// requested holds, per operation name, the requested cost Shopify
	// last reported: the same query text asks for the same points.
	requested sync.Map
)

// PaceKey is the pacing key of a shop's Admin budget.
func PaceKey(shop string) string { return "shopify:" + shop }

func (a *Admin) reserve(ctx context.Context, op, name string) (float64, error) {
	if a.pace == nil {
		return 0, nil
	}
	cost := firstEstimate
	if c, ok := requested.Load(name); ok {
		cost = c.(float64)
	}
	if err := a.pace.Wait(ctx, PaceKey(a.shop), cost, defaultBudget); err != nil {
		var we *pacing.WaitError
		if errors.As(err, &we) {
			return 0, &Error{Op: op, Retryable: true, RetryAfter: we.Wait, Reason: "the shop's query budget is spent"}
		}
		return 0, &Error{Op: op, Retryable: true, Reason: "pacing unavailable"}
	}
	return cost, nil
}

// observe gives the bucket what Shopify reported: the shop's budget, what
// is available now, and what the query reserved beyond its actual cost.
func (a *Admin) observe(ctx context.Context, name string, reserved float64, gr gqlResponse) {
	c := gr.Extensions.Cost
	if c.RequestedQueryCost > 0 {
		requested.Store(name, c.RequestedQueryCost)
	}
	if a.pace == nil || c.ThrottleStatus.RestoreRate <= 0 {
		return
	}
	refund := reserved // throttled: nothing was charged
	if c.ActualQueryCost != nil {
		refund = reserved - *c.ActualQueryCost
	}
	// Advisory: a failed update leaves the bucket's own count, which
	// the next answer corrects.
	_ = a.pace.Observe(ctx, PaceKey(a.shop), pacing.Budget{Capacity: c.ThrottleStatus.MaximumAvailable, Rate: c.ThrottleStatus.RestoreRate},
		c.ThrottleStatus.CurrentlyAvailable, refund)
}

// restoreWait is how long the bucket takes to hold the points a query
// requested, at the restore rate Shopify reported.
func restoreWait(requested, available, rate float64) time.Duration {
	if rate <= 0 {
		return time.Second
	}
	need := max(requested-available, 1)
	return time.Duration(math.Ceil(need/rate*1000)) * time.Millisecond
}

// number prints a JSON number Shopify sent, or "?".
func number(raw json.RawMessage) string {
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return "?"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// OrderGID is the GraphQL ID of a REST order ID.
func OrderGID(id int64) string { return "gid://shopify/Order/" + strconv.FormatInt(id, 10) }

// LegacyID is the numeric ID at the end of a GraphQL ID.
func LegacyID(gid string) (int64, error) {
	i := strings.LastIndexByte(gid, '/')
	n, err := strconv.ParseInt(gid[i+1:], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a Shopify ID: %q", gid)
	}
	return n, nil
}

// Marketing states of an email address.
const (
	MarketingSubscribed   = "SUBSCRIBED"
	MarketingUnsubscribed = "UNSUBSCRIBED"
)

// OrderStatus is what the send activity needs to decide eligibility. It
// holds the customer's ID and consent state, but no contact data: the
// address is read separately, only once the order is known to be eligible.
type OrderStatus struct {
	Found          bool
	Cancelled      bool
	Refunded       bool
	CustomerID     int64  // 0 for a guest checkout
	MarketingState string // "" when unknown (guest, or no email)
	ProductHandles map[int64]string
	ProductTags    map[int64][]string // the merchant's catalogue tags, not customer data
}

// QueryOrderStatus is the operation the stand-in recognises by name.
const QueryOrderStatus = `query CandorOrderStatus($id: ID!) {
  order(id: $id) {
    id
    cancelledAt
    displayFinancialStatus
    customer { id defaultEmailAddress { marketingState } }
    lineItems(first: 100) { nodes { product { id handle tags } } }
  }
}`

// QueryRecipient reads only what the email needs of the customer: the
// address to send to, and the language they ordered in (Order.customerLocale,
// a language code with an optional region such as "fr-CA"; null when
// Shopify has none: https://shopify.dev/docs/api/admin-graphql/latest/objects/Order,
// https://shopify.dev/changelog/locale-fields-are-now-appended-with-language-and-country-codes).
const QueryRecipient = `query CandorRecipient($id: ID!) {
  order(id: $id) {
    email
    customerLocale
    customer { defaultEmailAddress { emailAddress } }
  }
}`

// OrderStatus reads an order's state, customer ID and consent.
func (a *Admin) OrderStatus(ctx context.Context, orderID int64) (OrderStatus, error) {
	var resp struct {
		Order *struct {
			CancelledAt            *string `json:"cancelledAt"`
			DisplayFinancialStatus string  `json:"displayFinancialStatus"`
			Customer               *struct {
				ID                  string `json:"id"`
				DefaultEmailAddress *struct {
					MarketingState string `json:"marketingState"`
				} `json:"defaultEmailAddress"`
			} `json:"customer"`
			LineItems struct {
				Nodes []struct {
					Product *struct {
						ID     string   `json:"id"`
						Handle string   `json:"handle"`
						Tags   []string `json:"tags"`
					} `json:"product"`
				} `json:"nodes"`
			} `json:"lineItems"`
		} `json:"order"`
	}
	if err := a.query(ctx, "read order status", QueryOrderStatus, map[string]any{"id": OrderGID(orderID)}, &resp); err != nil {
		return OrderStatus{}, err
	}
	if resp.Order == nil {
		return OrderStatus{}, nil
	}
	o := resp.Order
	st := OrderStatus{
		Found:          true,
		Cancelled:      o.CancelledAt != nil && *o.CancelledAt != "",
		ProductHandles: map[int64]string{},
		ProductTags:    map[int64][]string{},
	}
	st.Refunded = o.DisplayFinancialStatus == "REFUNDED" || o.DisplayFinancialStatus == "PARTIALLY_REFUNDED"
	if o.Customer != nil {
		id, err := LegacyID(o.Customer.ID)
		if err != nil {
			return OrderStatus{}, &Error{Op: "read order status", Reason: "customer ID is malformed"}
		}
		st.CustomerID = id
		if o.Customer.DefaultEmailAddress != nil {
			st.MarketingState = o.Customer.DefaultEmailAddress.MarketingState
		}
	}
	for _, n := range o.LineItems.Nodes {
		if n.Product == nil {
			continue
		}
		if id, err := LegacyID(n.Product.ID); err == nil {
			st.ProductHandles[id] = n.Product.Handle
			st.ProductTags[id] = n.Product.Tags
		}
	}
	return st, nil
}

// QueryShopTimeZone reads the store's time zone, for the send window.
const QueryShopTimeZone = `query CandorShop {
  shop { ianaTimezone }
}`

// ShopTimeZone returns the store's IANA time zone, e.g. "Europe/Berlin".
func (a *Admin) ShopTimeZone(ctx context.Context) (string, error) {
	var resp struct {
		Shop *struct {
			IANATimezone string `json:"ianaTimezone"`
		} `json:"shop"`
	}
	if err := a.query(ctx, "read shop time zone", QueryShopTimeZone, nil, &resp); err != nil {
		return "", err
	}
	if resp.Shop == nil {
		return "", nil
	}
	return resp.Shop.IANATimezone, nil
}

// ShopProfile is what Candor reads about the store itself, just in time: its
// name, its owner's and its public contact address, its domains and its
// primary language. It is the merchant's, not a customer's.
type ShopProfile struct {
	Name            string
	Email           string // the owner's address, where Shopify writes to the merchant
	ContactEmail    string // the public contact address customers write to
	MyshopifyDomain string
	PrimaryDomain   string // the online store's primary domain's host
	// PrimaryLocale is the primary domain's default locale ("en", "fr"):
	// the language the store opens in. "" when Shopify reports none.
	PrimaryLocale string
}

// Contact is where a customer's reply should go: the public contact
// address, else the owner's.
func (p ShopProfile) Contact() string {
	if p.ContactEmail != "" {
		return p.ContactEmail
	}
	return p.Email
}

// Hosts are the store's own domains, lower-cased.
func (p ShopProfile) Hosts() []string {
	var out []string
	for _, h := range []string{p.MyshopifyDomain, p.PrimaryDomain} {
		if h != "" {
			out = append(out, strings.ToLower(h))
		}
	}
	return out
}

// QueryShopProfile reads the fields of the Shop object Candor uses
// (https://shopify.dev/docs/api/admin-graphql/latest/objects/Shop,
// https://shopify.dev/docs/api/admin-graphql/latest/objects/Domain). The
// shop's primary language is its primary domain's default locale
// (Domain.localization, a DomainLocalization whose defaultLocale is an ISO
// code such as "en": https://shopify.dev/docs/api/admin-graphql/latest/objects/DomainLocalization).
// It needs no scope beyond what Candor has, unlike the shopLocales query,
// which needs read_locales (https://shopify.dev/docs/api/admin-graphql/latest/queries/shopLocales).
const QueryShopProfile = `query CandorShopProfile {
  shop { name email contactEmail myshopifyDomain primaryDomain { host localization { defaultLocale } } }
}`

// ShopProfile reads the store's name, addresses and domains. The caller
// must not log or store the addresses.
func (a *Admin) ShopProfile(ctx context.Context) (ShopProfile, error) {
	var resp struct {
		Shop *struct {
			Name            string `json:"name"`
			Email           string `json:"email"`
			ContactEmail    string `json:"contactEmail"`
			MyshopifyDomain string `json:"myshopifyDomain"`
			PrimaryDomain   *struct {
				Host         string `json:"host"`
				Localization *struct {
					DefaultLocale string `json:"defaultLocale"`
				} `json:"localization"`
			} `json:"primaryDomain"`
		} `json:"shop"`
	}
	if err := a.query(ctx, "read shop profile", QueryShopProfile, nil, &resp); err != nil {
		return ShopProfile{}, err
	}
	if resp.Shop == nil {
		return ShopProfile{}, &Error{Op: "read shop profile", Reason: "no shop in the response"}
	}
	p := ShopProfile{Name: resp.Shop.Name, Email: resp.Shop.Email, ContactEmail: resp.Shop.ContactEmail,
		MyshopifyDomain: resp.Shop.MyshopifyDomain}
	if resp.Shop.PrimaryDomain != nil {
		p.PrimaryDomain = resp.Shop.PrimaryDomain.Host
		if l := resp.Shop.PrimaryDomain.Localization; l != nil {
			p.PrimaryLocale = l.DefaultLocale
		}
	}
	return p, nil
}

// Recipient reads the address to send the review request to. The caller
// must not store, log or return it.
func (a *Admin) Recipient(ctx context.Context, orderID int64) (string, error) {
	ad, err := a.Addressee(ctx, orderID)
	return ad.Email, err
}

// Addressee is whom an email goes to: the address, and the language the
// customer ordered in. Both are the customer's: the caller must not store,
// log or return them.
type Addressee struct {
	Email  string
	Locale string // Order.customerLocale, e.g. "pt-BR" or "fr-FR"; "" when unknown
}

// Addressee reads the order's address and customer locale, in one query.
// An unknown order gives the zero Addressee.
func (a *Admin) Addressee(ctx context.Context, orderID int64) (Addressee, error) {
	var resp struct {
		Order *struct {
			Email          string  `json:"email"`
			CustomerLocale *string `json:"customerLocale"`
			Customer       *struct {
				DefaultEmailAddress *struct {
					EmailAddress string `json:"emailAddress"`
				} `json:"defaultEmailAddress"`
			} `json:"customer"`
		} `json:"order"`
	}
	if err := a.query(ctx, "read recipient", QueryRecipient, map[string]any{"id": OrderGID(orderID)}, &resp); err != nil {
		return Addressee{}, err
	}
	if resp.Order == nil {
		return Addressee{}, nil
	}
	ad := Addressee{Email: resp.Order.Email}
	if l := resp.Order.CustomerLocale; l != nil {
		ad.Locale = *l
	}
	if c := resp.Order.Customer; c != nil && c.DefaultEmailAddress != nil && c.DefaultEmailAddress.EmailAddress != "" {
		ad.Email = c.DefaultEmailAddress.EmailAddress
	}
	return ad, nil
}

// Operations is every GraphQL document Candor sends to Shopify, by
// operation name. Each must stay within Shopify's single-query maximum
// cost (shopify_test checks them with the stand-in's calculator).
var Operations = map[string]string{
	"CandorOrderStatus":               QueryOrderStatus,
	"CandorRecipient":                 QueryRecipient,
	"CandorShop":                      QueryShopTimeZone,
	"CandorShopProfile":               QueryShopProfile,
	"CandorWebhookSubscriptions":      QueryWebhookSubscriptions,
	"CandorWebhookSubscriptionCreate": MutationWebhookSubscriptionCreate,
	"CandorWebhookSubscriptionUpdate": MutationWebhookSubscriptionUpdate,
	"CandorWebhookSubscriptionDelete": MutationWebhookSubscriptionDelete,
	"CandorFulfilledOrders":           QueryFulfilledOrders,
	"CandorOrderLineItems":            QueryOrderLineItems,
}

// silent discards go-shopify's log lines: at debug level they are whole
// request and response bodies, which hold customer data.
type silent struct{}

func (silent) Debugf(string, ...any) {}
func (silent) Errorf(string, ...any) {}
func (silent) Infof(string, ...any)  {}
func (silent) Warnf(string, ...any)  {}
