package store

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// ShopDomainRe is the anchored shop-domain check every entry point applies.
var ShopDomainRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$`)

// Settings are a shop's review-request choices. None of it is customer data.
type Settings struct {
	Delay           time.Duration `json:"delay"`          // after delivery
	FallbackDelay   time.Duration `json:"fallback_delay"` // after fulfillment, when no delivery event comes
	Reminder        time.Duration `json:"reminder"`       // after the first email; 0 = none
	ConsentRequired bool          `json:"consent_required"`
	ReviewURL       string        `json:"review_url"` // template: {shop}, {product_id}, {handle}
	Sender          string        `json:"sender"`
	Subject         string        `json:"subject"` // template: {order}
}

// DefaultSettings are what a new shop starts with: a week after delivery,
// three weeks after fulfillment without a delivery event, consent required.
func DefaultSettings(shop string) Settings {
	return Settings{
		Delay:           7 * 24 * time.Hour,
		FallbackDelay:   21 * 24 * time.Hour,
		ConsentRequired: true,
		ReviewURL:       "https://{shop}/products/{handle}#reviews",
		Sender:          "reviews@" + shop,
		Subject:         "How was your order {order}?",
	}
}

// Validate explains the first problem with s, in words a merchant can act on.
func (s Settings) Validate() error {
	switch {
	case s.Delay < 0 || s.FallbackDelay < 0 || s.Reminder < 0:
		return errors.New("delays must not be negative")
	case s.Delay > 365*24*time.Hour || s.FallbackDelay > 365*24*time.Hour || s.Reminder > 365*24*time.Hour:
		return errors.New("delays must be at most 365 days")
	}
	if err := ValidateReviewURL(s.ReviewURL); err != nil {
		return err
	}
	if a, err := mail.ParseAddress(s.Sender); err != nil || a.Name != "" || a.Address != s.Sender {
		return fmt.Errorf("sender %q is not a plain email address", s.Sender)
	}
	if strings.TrimSpace(s.Subject) == "" || len(s.Subject) > 200 || strings.ContainsAny(s.Subject, "\r\n") {
		return errors.New("subject must be one line of 1 to 200 characters")
	}
	return nil
}

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

// ValidateReviewURL checks a review-destination template: an https URL whose
// only placeholders are {shop}, {product_id} and {handle}.
func ValidateReviewURL(t string) error {
	for _, p := range placeholderRe.FindAllString(t, -1) {
		switch p {
		case "{shop}", "{product_id}", "{handle}":
		default:
			return fmt.Errorf("review URL template has unknown placeholder %s (use {shop}, {product_id}, {handle})", p)
		}
	}
	probe := strings.NewReplacer("{shop}", "a.myshopify.com", "{product_id}", "1", "{handle}", "h").Replace(t)
	if !strings.HasPrefix(probe, "https://") || strings.ContainsAny(probe, " \t\r\n\"<>") || len(t) > 500 {
		return fmt.Errorf("review URL template %q must be an https:// URL", t)
	}
	return nil
}

// Shop is a connected store.
type Shop struct {
	Domain      string
	TokenSealed string
	Settings
	Grant // OAuth installs only (0010)
}

type shopRow struct {
	Domain          string    `db:"domain"`
	TokenSealed     string    `db:"access_token_sealed"`
	Delay           int64     `db:"delay_seconds"`
	FallbackDelay   int64     `db:"fallback_delay_seconds"`
	Reminder        int64     `db:"reminder_seconds"`
	ConsentRequired bool      `db:"consent_required"`
	ReviewURL       string    `db:"review_url_template"`
	Sender          string    `db:"sender"`
	Subject         string    `db:"subject_template"`
	CreatedAt       time.Time `db:"created_at"`
	UpdatedAt       time.Time `db:"updated_at"`
	grantRow
}

func (r shopRow) shop() Shop {
	return Shop{Domain: r.Domain, TokenSealed: r.TokenSealed, Settings: Settings{
		Delay:           time.Duration(r.Delay) * time.Second,
		FallbackDelay:   time.Duration(r.FallbackDelay) * time.Second,
		Reminder:        time.Duration(r.Reminder) * time.Second,
		ConsentRequired: r.ConsentRequired,
		ReviewURL:       r.ReviewURL,
		Sender:          r.Sender,
		Subject:         r.Subject,
	}, Grant: r.grantRow.grant()}
}

// ErrShopExists is returned by AddShop for a shop that is already connected.
var ErrShopExists = errors.New("shop is already connected")

const addShopSQL = `
INSERT INTO shops (domain, access_token_sealed, delay_seconds, fallback_delay_seconds,
    reminder_seconds, consent_required, review_url_template, sender, subject_template)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// AddShop connects a shop with a sealed token and validated settings.
func (db *DB) AddShop(ctx context.Context, s Shop) error {
	if !ShopDomainRe.MatchString(s.Domain) {
		return fmt.Errorf("shop %q is not a *.myshopify.com domain", s.Domain)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, addShopSQL, s.Domain, s.TokenSealed, int64(s.Delay/time.Second),
		int64(s.FallbackDelay/time.Second), int64(s.Reminder/time.Second), s.ConsentRequired,
		s.ReviewURL, s.Sender, s.Subject)
	if IsUniqueViolation(err) {
		return ErrShopExists
	}
	return err
}

const updateShopSQL = `
UPDATE shops SET delay_seconds = $2, fallback_delay_seconds = $3, reminder_seconds = $4,
    consent_required = $5, review_url_template = $6, sender = $7, subject_template = $8,
    updated_at = now()
WHERE domain = $1`

// UpdateSettings replaces a shop's settings after validating them.
func (db *DB) UpdateSettings(ctx context.Context, domain string, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, updateShopSQL, domain, int64(s.Delay/time.Second),
		int64(s.FallbackDelay/time.Second), int64(s.Reminder/time.Second), s.ConsentRequired,
		s.ReviewURL, s.Sender, s.Subject)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
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
