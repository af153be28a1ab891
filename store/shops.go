package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/retention"

	// Time zones must resolve on hosts and images without system tzdata.
	_ "time/tzdata"
)

// Settings are a shop's review-request choices. None of it is customer data.
type Settings struct {
	Delay         time.Duration `json:"delay"`          // after delivery
	FallbackDelay time.Duration `json:"fallback_delay"` // after fulfillment, when no delivery event comes
	Reminder      time.Duration `json:"reminder"`       // after the first email; 0 = none
	// ConsentMode is the legal ground the shop emails on: ConsentExplicit,
	// ConsentSoftOptIn or ConsentNone (docs/consent.md).
	ConsentMode string `json:"consent_mode"`
	ReviewURL   string `json:"review_url"` // template: {shop}, {product_id}, {handle}
	Subject     string `json:"subject"`    // template: {order}

	// Send window: minutes after local midnight, [WindowStart, WindowEnd).
	// Equal means any time; WindowEnd < WindowStart wraps past midnight.
	WindowStart int    `json:"window_start"`
	WindowEnd   int    `json:"window_end"`
	TimeZone    string `json:"time_zone"` // IANA name; "" = the shop's own time zone
	// Products never asked about: by product ID, or by any of these tags.
	ExcludedProducts []int64  `json:"excluded_products,omitempty"`
	ExcludedTags     []string `json:"excluded_tags,omitempty"`
	// EmailPer says when an order shipped in several parcels is asked
	// about: EmailPerOrder or EmailPerShipment.
	EmailPer string `json:"email_per"`
	// Caps, per customer (by pseudonym): at most MaxEmails review emails
	// in CapEmailsWindow (0 = no cap); a product asked about at most once
	// in CapProductWindow when ProductOnce; at most MaxProducts products in
	// one email.
	MaxEmails   int  `json:"max_emails"`
	ProductOnce bool `json:"product_once"`
	MaxProducts int  `json:"max_products"`
}

// The caps' windows.
const (
	CapEmailsWindow  = 30 * 24 * time.Hour
	CapProductWindow = 365 * 24 * time.Hour
)

// Consent modes.
const (
	// ConsentExplicit: only customers subscribed to the shop's email
	// marketing are emailed; the registry records consent.
	ConsentExplicit = "explicit"
	// ConsentSoftOptIn: the EU soft opt-in for existing customers: every
	// customer of the order is emailed unless they opted out, on the shop's
	// legitimate interest, and every email carries the objection notice.
	ConsentSoftOptIn = "soft_opt_in"
	// ConsentNone: every customer of the order is emailed unless they
	// opted out, on the shop's legitimate interest.
	ConsentNone = "none"
)

// ConsentRequired reports whether only customers who consented to email
// marketing may be emailed.
func (s Settings) ConsentRequired() bool { return s.ConsentMode == ConsentExplicit }

// When an order shipped in several parcels is asked about.
const (
	// EmailPerOrder: one email once the whole order is fulfilled and every
	// parcel delivered, or the fallback delay after the last fulfillment
	// when no delivery comes (the default, as Judge.me's).
	EmailPerOrder = "order"
	// EmailPerShipment: one email per shipment, after that shipment's
	// delivery (or its fallback delay).
	EmailPerShipment = "shipment"
)

// DefaultSettings are what a new shop starts with: a week after delivery,
// three weeks after fulfillment without a delivery event, consent required.
func DefaultSettings(shop string) Settings {
	return Settings{
		Delay:         7 * 24 * time.Hour,
		FallbackDelay: 21 * 24 * time.Hour,
		ConsentMode:   ConsentExplicit,
		ReviewURL:     "https://{shop}/products/{handle}#reviews",
		Subject:       "How was your order {order}?",
		EmailPer:      EmailPerOrder,
		MaxEmails:     3,
		ProductOnce:   true,
		MaxProducts:   5,
	}
}

// Validate explains the first problem with s, in words a merchant can act on.
// The error is a *FieldError naming the setting.
func (s Settings) Validate() error {
	if ps := s.Problems(); len(ps) > 0 {
		return ps[0]
	}
	return nil
}

// Problems lists every problem with s, one per setting at most, in form
// order, so a form can show each next to its field.
func (s Settings) Problems() []*FieldError {
	var ps []*FieldError
	add := func(field, code string, a ...any) { ps = append(ps, fieldError(field, code, a...)) }
	const maxDelay = 365 * 24 * time.Hour
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"delay", s.Delay}, {"fallback_delay", s.FallbackDelay}, {"reminder", s.Reminder}} {
		switch {
		case d.v < 0:
			add(d.field, "delay_negative")
		case d.v > maxDelay:
			add(d.field, "delay_too_long")
		}
	}
	if err := ValidateReviewURL(s.ReviewURL); err != nil {
		ps = append(ps, err.(*FieldError))
	}
	if strings.TrimSpace(s.Subject) == "" || len(s.Subject) > 200 || strings.ContainsAny(s.Subject, "\r\n") {
		add("subject", "subject_one_line")
	} else if strings.ContainsAny(s.Subject, "<>") {
		add("subject", "plain_text_no_html")
	} else if m := placeholderRe.FindAllString(s.Subject, -1); len(m) > 1 || strings.ContainsAny(strings.ReplaceAll(s.Subject, "{order}", ""), "{}") {
		add("subject", "subject_placeholder")
	}
	if s.WindowStart < 0 || s.WindowStart >= 24*60 {
		add("window_start", "window_start_range")
	}
	if s.WindowEnd < 0 || s.WindowEnd >= 24*60 {
		add("window_end", "window_end_range")
	}
	if err := ValidateTimeZone(s.TimeZone); err != nil {
		ps = append(ps, err.(*FieldError))
	}
	if s.ConsentMode != ConsentExplicit && s.ConsentMode != ConsentSoftOptIn && s.ConsentMode != ConsentNone {
		add("consent_mode", "consent_mode")
	}
	if s.EmailPer != EmailPerOrder && s.EmailPer != EmailPerShipment {
		add("email_per", "email_per")
	}
	if s.MaxEmails < 0 || s.MaxEmails > 50 {
		add("max_emails", "max_emails_range")
	}
	if s.MaxProducts < 1 || s.MaxProducts > 10 {
		add("max_products", "max_products_range")
	}
	if len(s.ExcludedProducts) > 500 {
		add("excluded_products", "excluded_products_n")
	}
	for _, id := range s.ExcludedProducts {
		if id <= 0 {
			add("excluded_products", "excluded_product_id", id)
			break
		}
	}
	if len(s.ExcludedTags) > 100 {
		add("excluded_tags", "excluded_tags_n")
	}
	for _, t := range s.ExcludedTags {
		if t == "" || t != strings.TrimSpace(t) || len(t) > 255 || strings.ContainsAny(t, ",\r\n") {
			add("excluded_tags", "excluded_tag", t)
			break
		}
	}
	return ps
}

// ValidateTimeZone accepts "" (the shop's own zone) or an IANA zone name;
// its error is a *FieldError.
func ValidateTimeZone(tz string) error {
	if tz == "" {
		return nil
	}
	if tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return fieldError("time_zone", "time_zone", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return fieldError("time_zone", "time_zone", tz)
	}
	return nil
}

// ParseClock reads "HH:MM" (24-hour) as minutes after midnight.
func ParseClock(v string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day like 09:00 or 18:30", v)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// FormatClock writes minutes after midnight as "HH:MM".
func FormatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Timing is what the review_requests period must cover (retention.CheckWait).
func (s Settings) Timing() retention.Timing {
	return retention.Timing{Delay: s.Delay, FallbackDelay: s.FallbackDelay, Reminder: s.Reminder}
}

// HasWindow reports whether sending is limited to part of the day.
func (s Settings) HasWindow() bool { return s.WindowStart != s.WindowEnd }

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

// ValidateReviewURL checks a review-destination template: an https URL whose
// only placeholders are {shop}, {product_id} and {handle}, and whose host is
// written out or is {shop}. Where the host may point is CheckReviewHost's
// question. Its error is a *FieldError.
func ValidateReviewURL(t string) error {
	for _, p := range placeholderRe.FindAllString(t, -1) {
		switch p {
		case "{shop}", "{product_id}", "{handle}":
		default:
			return fieldError("review_url", "review_url_placeholder", p)
		}
	}
	probe := strings.NewReplacer("{shop}", "a.myshopify.com", "{product_id}", "1", "{handle}", "h").Replace(t)
	if !strings.HasPrefix(probe, "https://") || strings.ContainsAny(probe, " \t\r\n\"<>\\") || len(t) > 500 {
		return fieldError("review_url", "review_url_https", t)
	}
	if _, err := reviewHost(t); err != nil {
		return err
	}
	return nil
}

// ReviewPlatforms are the review sites a review destination may link to
// besides the shop's own domains: each host and its subdomains (such as
// uk.trustpilot.com). Google's review links are search.google.com/local/
// writereview and g.page/r/…/review.
var ReviewPlatforms = []string{"judge.me", "trustpilot.com", "search.google.com", "g.page"}

var hostRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// reviewHost is the host a review-destination template links to,
// lower-cased, or "" for the {shop} placeholder. A placeholder anywhere else
// in the host, a user name or a port is refused: none may move the link off
// the host the merchant wrote.
func reviewHost(t string) (string, error) {
	rest, ok := strings.CutPrefix(t, "https://")
	if !ok {
		return "", fieldError("review_url", "review_url_https", t)
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if authority == "{shop}" {
		return "", nil
	}
	host := strings.ToLower(authority)
	if !hostRe.MatchString(host) {
		return "", fieldError("review_url", "review_url_host", t)
	}
	return host, nil
}

// ReviewHostNeedsShop reports whether checking t's host needs the shop's
// domains as Shopify reports them: it is neither {shop}, the shop's
// myshopify domain nor a review platform.
func ReviewHostNeedsShop(t, shop string) bool {
	host, err := reviewHost(t)
	return err == nil && host != "" && host != strings.ToLower(shop) && !isReviewPlatform(host)
}

func isReviewPlatform(host string) bool {
	for _, p := range ReviewPlatforms {
		if host == p || strings.HasSuffix(host, "."+p) {
			return true
		}
	}
	return false
}

// CheckReviewHost refuses a review destination off the shop's own domains
// and the review platforms, so a shop cannot make Candor's links lead to an
// arbitrary site. shopHosts are the shop's domains as Shopify reports them
// (its myshopify and primary domains), read just in time; without them only
// {shop}, the myshopify domain and the platforms pass.
func CheckReviewHost(t, shop string, shopHosts []string) error {
	host, err := reviewHost(t)
	if err != nil || host == "" || host == strings.ToLower(shop) || isReviewPlatform(host) {
		return err
	}
	for _, h := range shopHosts {
		if strings.EqualFold(h, host) {
			return nil
		}
	}
	return fieldError("review_url", "review_url_off_shop", strings.Join(ReviewPlatforms, ", "), host)
}

// Shop is a connected store.
type Shop struct {
	Domain      string
	TokenSealed string
	Settings
	CreatedAt time.Time // when it was connected
	Grant               // OAuth installs only (0010)
}

type shopRow struct {
	Domain          string         `db:"domain"`
	TokenSealed     string         `db:"access_token_sealed"`
	Delay           int64          `db:"delay_seconds"`
	FallbackDelay   int64          `db:"fallback_delay_seconds"`
	Reminder        int64          `db:"reminder_seconds"`
	ConsentRequired bool           `db:"consent_required"` // kept in step with consent_mode (0020)
	ConsentMode     string         `db:"consent_mode"`
	ReviewURL       string         `db:"review_url_template"`
	Subject         string         `db:"subject_template"`
	CreatedAt       time.Time      `db:"created_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
	WindowStart     int            `db:"send_window_start"`
	WindowEnd       int            `db:"send_window_end"`
	TimeZone        string         `db:"time_zone"`
	ExcludedIDs     pq.Int64Array  `db:"excluded_product_ids"`
	ExcludedTags    pq.StringArray `db:"excluded_tags"`
	EmailPer        string         `db:"email_per"`
	MaxEmails       int            `db:"cap_max_emails"`
	ProductOnce     bool           `db:"cap_product_once"`
	MaxProducts     int            `db:"cap_max_products"`
	grantRow
}

func (r shopRow) shop() Shop {
	return Shop{Domain: r.Domain, TokenSealed: r.TokenSealed, Settings: Settings{
		Delay:            time.Duration(r.Delay) * time.Second,
		FallbackDelay:    time.Duration(r.FallbackDelay) * time.Second,
		Reminder:         time.Duration(r.Reminder) * time.Second,
		ConsentMode:      r.ConsentMode,
		ReviewURL:        r.ReviewURL,
		Subject:          r.Subject,
		WindowStart:      r.WindowStart,
		WindowEnd:        r.WindowEnd,
		TimeZone:         r.TimeZone,
		ExcludedProducts: nilIfEmpty([]int64(r.ExcludedIDs)),
		ExcludedTags:     nilIfEmpty([]string(r.ExcludedTags)),
		EmailPer:         r.EmailPer,
		MaxEmails:        r.MaxEmails,
		ProductOnce:      r.ProductOnce,
		MaxProducts:      r.MaxProducts,
	}, CreatedAt: r.CreatedAt, Grant: r.grantRow.grant()}
}

// orEmpty passes a nil list as an empty array, not NULL.
func orEmpty[T int64 | string](s []T) any {
	switch v := any(s).(type) {
	case []int64:
		if v == nil {
			v = []int64{}
		}
		return pq.Int64Array(v)
	case []string:
		if v == nil {
			v = []string{}
		}
		return pq.StringArray(v)
	}
	return nil
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// ErrShopExists is returned by AddShop for a shop that is already connected.
var ErrShopExists = errors.New("shop is already connected")

const addShopSQL = `
INSERT INTO shops (domain, access_token_sealed, delay_seconds, fallback_delay_seconds,
    reminder_seconds, consent_required, review_url_template, subject_template,
    send_window_start, send_window_end, time_zone, excluded_product_ids, excluded_tags, email_per,
    cap_max_emails, cap_product_once, cap_max_products, consent_mode)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`

// AddShop connects a shop with a sealed token and validated settings.
// shopHosts are the shop's domains as Shopify reports them, needed only when
// the review destination is on one (ReviewHostNeedsShop).
func (db *DB) AddShop(ctx context.Context, s Shop, shopHosts ...string) error {
	if !shopify.ValidShopDomain(s.Domain) {
		return fmt.Errorf("shop %q is not a *.myshopify.com domain", s.Domain)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if err := CheckReviewHost(s.ReviewURL, s.Domain, shopHosts); err != nil {
		return err
	}
	// A new shop has no retention override yet.
	if err := retention.CheckWait(retention.Lookup(retention.ReviewRequests).Keep, s.Timing()); err != nil {
		return retentionError(tooLong(DefaultSettings(s.Domain), s.Settings), err)
	}
	_, err := db.ExecContext(ctx, addShopSQL, s.Domain, s.TokenSealed, int64(s.Delay/time.Second),
		int64(s.FallbackDelay/time.Second), int64(s.Reminder/time.Second), s.ConsentRequired(),
		s.ReviewURL, s.Subject, s.WindowStart, s.WindowEnd, s.TimeZone,
		orEmpty(s.ExcludedProducts), orEmpty(s.ExcludedTags), s.EmailPer, s.MaxEmails, s.ProductOnce, s.MaxProducts, s.ConsentMode)
	if IsUniqueViolation(err) {
		return ErrShopExists
	}
	return err
}

const updateShopSQL = `
UPDATE shops SET delay_seconds = $2, fallback_delay_seconds = $3, reminder_seconds = $4,
    consent_required = $5, review_url_template = $6, subject_template = $7,
    send_window_start = $8, send_window_end = $9, time_zone = $10, excluded_product_ids = $11,
    excluded_tags = $12, email_per = $13, cap_max_emails = $14, cap_product_once = $15, cap_max_products = $16,
    consent_mode = $17, updated_at = now()
WHERE domain = $1`

// UpdateSettings replaces a shop's settings after validating them. Its
// review_requests period stays; the timing must fit in it. shopHosts are as
// for AddShop.
func (db *DB) UpdateSettings(ctx context.Context, domain string, s Settings, shopHosts ...string) error {
	return db.SaveSettings(ctx, domain, s, 0, shopHosts...)
}

// KeepRequestsField is the form name of the review_requests period where
// the settings are edited with it (SaveSettings).
const KeepRequestsField = "keep_requests"

// SaveSettings replaces a shop's settings and, unless keep is 0, sets its
// review_requests period, in one transaction under the shop's row lock, so
// the timing and the period are checked together whichever changes
// (retention.CheckWait): a change that would let a waiting request expire
// is refused, and nothing is saved. The error is a *FieldError naming the
// setting that changed to cause it (KeepRequestsField for the period).
// shopHosts are as for AddShop.
func (db *DB) SaveSettings(ctx context.Context, domain string, s Settings, keep time.Duration, shopHosts ...string) error {
	return db.saveSettings(ctx, domain, s, keep, nil, shopHosts...)
}

// saveSettings is SaveSettings; also, when not nil, runs in the same
// transaction once the settings are written, and its error undoes them.
func (db *DB) saveSettings(ctx context.Context, domain string, s Settings, keep time.Duration, also func(*sqlx.Tx) error, shopHosts ...string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := CheckReviewHost(s.ReviewURL, domain, shopHosts); err != nil {
		return err
	}
	if keep != 0 {
		if err := retention.Check(retention.ReviewRequests, keep); err != nil {
			return retentionError(KeepRequestsField, err)
		}
	}
	return db.InTx(ctx, func(tx *sqlx.Tx) error {
		var old shopRow
		if err := tx.GetContext(ctx, &old, `SELECT * FROM shops WHERE domain = $1 FOR UPDATE`, domain); err != nil {
			return notFound(err)
		}
		ov, err := overrides(ctx, tx, `WHERE shop = $1`, domain)
		if err != nil {
			return err
		}
		current := ov[domain].Keep(retention.ReviewRequests)
		if keep == 0 {
			keep = current
		}
		if err := retention.CheckWait(keep, s.Timing()); err != nil {
			field := tooLong(old.shop().Settings, s)
			if keep < current {
				field = KeepRequestsField
			}
			return retentionError(field, err)
		}
		if _, err := tx.ExecContext(ctx, updateShopSQL, domain, int64(s.Delay/time.Second),
			int64(s.FallbackDelay/time.Second), int64(s.Reminder/time.Second), s.ConsentRequired(),
			s.ReviewURL, s.Subject, s.WindowStart, s.WindowEnd, s.TimeZone,
			orEmpty(s.ExcludedProducts), orEmpty(s.ExcludedTags), s.EmailPer, s.MaxEmails, s.ProductOnce, s.MaxProducts, s.ConsentMode); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if keep == current {
			return nil
		}
		return setOverride(ctx, tx, domain, retention.ReviewRequests, keep)
	})
}

// tooLong names the timing setting that grew from old to s, the one to
// blame when the wait no longer fits the period.
func tooLong(old, s Settings) string {
	switch {
	case s.Delay > old.Delay:
		return "delay"
	case s.FallbackDelay > old.FallbackDelay:
		return "fallback_delay"
	case s.Reminder > old.Reminder:
		return "reminder"
	}
	return "fallback_delay"
}

// Shop loads one shop.
func (db *DB) Shop(ctx context.Context, domain string) (Shop, error) {
	var r shopRow
	err := db.GetContext(ctx, &r, `SELECT * FROM shops WHERE domain = $1`, domain)
	if err != nil {
		return Shop{}, notFound(err)
	}
	return r.shop(), nil
}

// Shops lists every connected shop.
func (db *DB) Shops(ctx context.Context) ([]Shop, error) {
	var rows []shopRow
	if err := db.SelectContext(ctx, &rows, `SELECT * FROM shops ORDER BY domain`); err != nil {
		return nil, err
	}
	out := make([]Shop, len(rows))
	for i, r := range rows {
		out[i] = r.shop()
	}
	return out, nil
}

// SplitList splits a comma-separated settings value (excluded tags or
// product IDs), dropping blanks.
func SplitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
