// Package config reads Candor's configuration from the environment.
//
// It owns names and defaults only; it never logs values, because several of
// them are secrets.
package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ShopifyAPIVersion is the pinned Admin API version. Shopify supports each
// version for twelve months; bump it deliberately, with the stand-in tests.
const ShopifyAPIVersion = "2026-10"

// Config is everything the binary reads from the environment.
type Config struct {
	DatabaseURL string
	// MigrateDatabaseURL (CANDOR_MIGRATE_DATABASE_URL) is the tables'
	// owner, for `candor migrate`; DATABASE_URL is then the app role that
	// serve and worker use, which migrate grants (docs/security.md).
	MigrateDatabaseURL string
	TemporalAddress    string
	TemporalNamespace  string
	HTTPAddr           string
	// MetricsAddr is where `candor worker` serves /metrics
	// (CANDOR_METRICS_ADDR); empty: it serves none. `candor serve` and
	// `candor dev` serve it on HTTPAddr.
	MetricsAddr       string
	PublicURL         string
	ShopifyAPIKey     string
	ShopifyAPISecret  string
	ShopifyAPIVersion string
	ShopifyBaseURL    string // CANDOR_SHOPIFY_BASE_URL: stand-in override
	SendGridAPIKey    string
	SendGridBaseURL   string // CANDOR_SENDGRID_BASE_URL: stand-in override
	MasterKey         []byte // 32 bytes, from CANDOR_MASTER_KEY

	// MailFrom is the From address of every email (CANDOR_MAIL_FROM): an
	// address on the domain authenticated in the SendGrid account. Shops
	// share it; each appears only in the display name and the Reply-To.
	MailFrom string
	// SendGridWebhookKey verifies the signed Event Webhook, from
	// SENDGRID_WEBHOOK_PUBLIC_KEY; nil: POST /webhooks/sendgrid refuses.
	SendGridWebhookKey *ecdsa.PublicKey
	// MasterKeyPrevious are earlier master keys (CANDOR_MASTER_KEY_PREVIOUS,
	// comma-separated, newest first), held during a rotation only to open
	// what they sealed.
	MasterKeyPrevious [][]byte
	// Temporal is how to reach the frontend securely: TLS, mTLS, API key.
	Temporal TemporalSecurity
	// CodecOrigins may call the payload codec endpoint from a browser
	// (CANDOR_CODEC_ORIGINS, comma-separated; the Temporal UI's origin).
	CodecOrigins []string
	// SendGridRate is how many Mail Send calls a second the SendGrid
	// account takes, shared by every worker (CANDOR_SENDGRID_RATE;
	// default DefaultSendGridRate). SendGrid publishes no figure: each
	// answer's X-RateLimit-Limit says the account's.
	SendGridRate float64
	// OIDC is the staff console's sign-in (CANDOR_OIDC_*; see oidc.go).
	OIDC OIDC
}

// DefaultSendGridRate is SendGridRate when CANDOR_SENDGRID_RATE is unset.
const DefaultSendGridRate = 100

// FromEnv reads the environment. It does not require anything: each command
// asks for what it needs with the Require* methods, so errors name the
// missing variable.
func FromEnv() (Config, error) { return fromEnv(os.Getenv) }

// Names is every environment variable FromEnv reads, sorted, so that
// deployment files can be checked against it.
func Names() []string {
	seen := map[string]bool{}
	_, _ = fromEnv(func(name string) string { seen[name] = true; return "" })
	return slices.Sorted(maps.Keys(seen))
}

// fromEnv reads the configuration through getenv. Every variable is read
// on every call, whatever the others hold, so Names sees them all.
func fromEnv(getenv func(string) string) (Config, error) {
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	masterKey, webhookKey, previous, origins := getenv("CANDOR_MASTER_KEY"), getenv("SENDGRID_WEBHOOK_PUBLIC_KEY"),
		getenv("CANDOR_MASTER_KEY_PREVIOUS"), getenv("CANDOR_CODEC_ORIGINS")
	temporal, temporalErr := temporalFromEnv(getenv)
	oidc, oidcErr := oidcFromEnv(getenv)
	c := Config{
		DatabaseURL:        getenv("DATABASE_URL"),
		MigrateDatabaseURL: getenv("CANDOR_MIGRATE_DATABASE_URL"),
		TemporalAddress:    envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace:  envOr("TEMPORAL_NAMESPACE", "default"),
		HTTPAddr:           envOr("CANDOR_HTTP_ADDR", "127.0.0.1:8080"),
		MetricsAddr:        getenv("CANDOR_METRICS_ADDR"),
		PublicURL:          strings.TrimRight(getenv("CANDOR_PUBLIC_URL"), "/"),
		ShopifyAPIKey:      getenv("SHOPIFY_API_KEY"),
		ShopifyAPISecret:   getenv("SHOPIFY_API_SECRET"),
		ShopifyAPIVersion:  envOr("SHOPIFY_API_VERSION", ShopifyAPIVersion),
		ShopifyBaseURL:     strings.TrimRight(getenv("CANDOR_SHOPIFY_BASE_URL"), "/"),
		SendGridAPIKey:     getenv("SENDGRID_API_KEY"),
		SendGridBaseURL:    strings.TrimRight(getenv("CANDOR_SENDGRID_BASE_URL"), "/"),
		MailFrom:           strings.TrimSpace(getenv("CANDOR_MAIL_FROM")),
	}
	c.SendGridRate = DefaultSendGridRate
	if v := getenv("CANDOR_SENDGRID_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) {
			return c, fmt.Errorf("CANDOR_SENDGRID_RATE must be a number of Mail Send calls a second above 0, like 100, not %q", v)
		}
		c.SendGridRate = r
	}
	if c.MailFrom != "" {
		if a, err := mail.ParseAddress(c.MailFrom); err != nil || a.Address != c.MailFrom {
			return c, fmt.Errorf("CANDOR_MAIL_FROM must be one plain email address on the domain authenticated in SendGrid, like reviews@mail.example.com")
		}
	}
	if !apiVersionRe.MatchString(c.ShopifyAPIVersion) {
		return c, fmt.Errorf("SHOPIFY_API_VERSION %q is not a Shopify API version like %s", c.ShopifyAPIVersion, ShopifyAPIVersion)
	}
	for name, u := range map[string]string{"CANDOR_PUBLIC_URL": c.PublicURL, "CANDOR_SHOPIFY_BASE_URL": c.ShopifyBaseURL, "CANDOR_SENDGRID_BASE_URL": c.SendGridBaseURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return c, fmt.Errorf("%s must be an absolute http(s) URL", name)
		}
	}
	c.Temporal, c.OIDC = temporal, oidc
	if temporalErr != nil {
		return c, temporalErr
	}
	if oidcErr != nil {
		return c, oidcErr
	}
	if v := masterKey; v != "" {
		k, err := ParseMasterKey(v)
		if err != nil {
			return c, err
		}
		c.MasterKey = k
	}
	if v := webhookKey; v != "" {
		k, err := ParseSendGridWebhookKey(v)
		if err != nil {
			return c, err
		}
		c.SendGridWebhookKey = k
	}
	if v := previous; v != "" {
		for i, part := range strings.Split(v, ",") {
			k, err := ParseMasterKey(strings.TrimSpace(part))
			if err != nil {
				return c, fmt.Errorf("CANDOR_MASTER_KEY_PREVIOUS key %d: %w", i+1, err)
			}
			c.MasterKeyPrevious = append(c.MasterKeyPrevious, k)
		}
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CodecOrigins = append(c.CodecOrigins, o)
		}
	}
	return c, nil
}

// ParseSendGridWebhookKey reads the Event Webhook's verification key as
// SendGrid's settings page shows it: base64 of a DER (SubjectPublicKeyInfo)
// ECDSA P-256 key. sendgrid-go's ConvertPublicKeyBase64ToECDSA does the same
// but panics when the key is not ECDSA, so the type is checked here.
func ParseSendGridWebhookKey(v string) (*ecdsa.PublicKey, error) {
	const want = "SENDGRID_WEBHOOK_PUBLIC_KEY must be the base64 ECDSA public key from SendGrid's Event Webhook settings (Signature Verification)"
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return nil, errors.New(want + ": it is not base64")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New(want + ": it is not a public key")
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New(want + ": it is not an ECDSA P-256 key")
	}
	return k, nil
}

var apiVersionRe = regexp.MustCompile(`^\d{4}-\d{2}$`)

// ParseMasterKey decodes a base64 master key and checks its length.
func ParseMasterKey(v string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return nil, errors.New("CANDOR_MASTER_KEY is not valid base64")
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("CANDOR_MASTER_KEY must decode to 32 bytes, got %d", len(k))
	}
	return k, nil
}

// RequireDatabase reports a clear error when DATABASE_URL is unset.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/candor?sslmode=disable)")
	}
	return nil
}

// RequireServe checks what the HTTP server cannot run without.
func (c Config) RequireServe() error {
	if err := c.RequireDatabase(); err != nil {
		return err
	}
	if c.ShopifyAPISecret == "" {
		return errors.New("SHOPIFY_API_SECRET is empty: webhooks cannot be verified, refusing to start")
	}
	if c.MasterKey == nil {
		return errors.New("CANDOR_MASTER_KEY is not set (base64 of 32 random bytes: openssl rand -base64 32)")
	}
	if c.PublicURL == "" {
		return errors.New("CANDOR_PUBLIC_URL is not set: email links need the public address of this server")
	}
	return nil
}

// RequireWorker checks what the Temporal worker cannot run without.
func (c Config) RequireWorker() error {
	if err := c.RequireDatabase(); err != nil {
		return err
	}
	if c.MasterKey == nil {
		return errors.New("CANDOR_MASTER_KEY is not set (base64 of 32 random bytes: openssl rand -base64 32)")
	}
	if c.PublicURL == "" {
		return errors.New("CANDOR_PUBLIC_URL is not set: email links need the public address of this server")
	}
	if c.SendGridAPIKey == "" {
		return errors.New("SENDGRID_API_KEY is not set")
	}
	if c.MailFrom == "" {
		return errors.New("CANDOR_MAIL_FROM is not set: the sender address of every email, on the domain authenticated in SendGrid")
	}
	return nil
}

// ParseDuration accepts Go durations plus a day suffix ("14d", "1d12h").
// Negative values are refused: every Candor duration is a wait.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 90s, 36h, 14d)", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90s, 36h, 14d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return total + d, nil
}

// FormatDuration prints a duration the way ParseDuration reads it, in its
// largest whole unit: 14d, 36h, 90m, 45s, 0.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
