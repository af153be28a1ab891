package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "36h": 36 * time.Hour, "14d": 14 * 24 * time.Hour,
		"1d12h": 36 * time.Hour, "0": 0, "0d": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-5s", "-1d", "soon", "5", "d", "1x", "1d-2h"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestFromEnv_RejectsBadValuesWithTheVariableName(t *testing.T) {
	for name, c := range map[string]struct{ key, value, want string }{
		"master key not base64": {"CANDOR_MASTER_KEY", "%%%", "CANDOR_MASTER_KEY"},
		"master key too short":  {"CANDOR_MASTER_KEY", "c2hvcnQ=", "32 bytes"},
		"api version":           {"SHOPIFY_API_VERSION", "latest", "SHOPIFY_API_VERSION"},
		"public URL":            {"CANDOR_PUBLIC_URL", "candor.example", "CANDOR_PUBLIC_URL"},
		"shopify base URL":      {"CANDOR_SHOPIFY_BASE_URL", "ftp://x", "CANDOR_SHOPIFY_BASE_URL"},
		"mail from with a name": {"CANDOR_MAIL_FROM", "Shop <reviews@mail.example>", "CANDOR_MAIL_FROM"},
		"mail from not one":     {"CANDOR_MAIL_FROM", "a@b.example, c@d.example", "CANDOR_MAIL_FROM"},
		"sendgrid rate zero":    {"CANDOR_SENDGRID_RATE", "0", "CANDOR_SENDGRID_RATE"},
		"sendgrid rate word":    {"CANDOR_SENDGRID_RATE", "fast", "CANDOR_SENDGRID_RATE"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(c.key, c.value)
			_, err := FromEnv()
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.value) && c.key == "CANDOR_MASTER_KEY" {
				t.Fatalf("err = %v, want one naming %s without echoing the key", err, c.want)
			}
		})
	}
	t.Setenv("SHOPIFY_API_VERSION", "")
	t.Setenv("CANDOR_PUBLIC_URL", "")
	t.Setenv("CANDOR_SHOPIFY_BASE_URL", "")
	t.Setenv("CANDOR_MASTER_KEY", "")
	c, err := FromEnv()
	if err != nil || c.ShopifyAPIVersion != ShopifyAPIVersion || c.TemporalAddress != "127.0.0.1:7233" || c.HTTPAddr != "127.0.0.1:8080" ||
		c.SendGridRate != DefaultSendGridRate {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	if err := c.RequireServe(); err == nil {
		t.Fatal("RequireServe passed with nothing set")
	}
}

func TestRequireWorker_NeedsTheSenderAddress(t *testing.T) {
	c := Config{DatabaseURL: "postgres://x", MasterKey: make([]byte, 32), PublicURL: "https://candor.example", SendGridAPIKey: "SG.x"}
	if err := c.RequireWorker(); err == nil || !strings.Contains(err.Error(), "CANDOR_MAIL_FROM") {
		t.Fatalf("worker without a sender: %v", err)
	}
	c.MailFrom = "reviews@mail.candor.example"
	if err := c.RequireWorker(); err != nil {
		t.Fatal(err)
	}
}

func TestFromEnv_SendGridWebhookKeyMustBeAnECDSAP256PublicKey(t *testing.T) {
	der := func(pub any) string {
		b, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for name, c := range map[string]struct{ value, want string }{
		"not base64":     {"%%%", "not base64"},
		"not a key":      {base64.StdEncoding.EncodeToString([]byte("hello")), "not a public key"},
		"an Ed25519 key": {der(edPub), "not an ECDSA P-256 key"},
		"a P-384 key":    {der(&p384.PublicKey), "not an ECDSA P-256 key"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", c.value)
			_, err := FromEnv()
			if err == nil || !strings.Contains(err.Error(), "SENDGRID_WEBHOOK_PUBLIC_KEY") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming the variable and saying %q", err, c.want)
			}
		})
	}
	t.Setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", " "+der(&p256.PublicKey)+"\n")
	c, err := FromEnv()
	if err != nil || c.SendGridWebhookKey == nil || !c.SendGridWebhookKey.Equal(&p256.PublicKey) {
		t.Fatalf("a P-256 key from SendGrid's settings page: %v", err)
	}
	t.Setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", "")
	if c, err = FromEnv(); err != nil || c.SendGridWebhookKey != nil {
		t.Fatalf("unset: key %v, err %v", c.SendGridWebhookKey, err)
	}
}

func TestFromEnv_PreviousMasterKeysAndCodecOrigins(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", k1+", "+k2)
	t.Setenv("CANDOR_CODEC_ORIGINS", "http://127.0.0.1:8233, https://temporal.example.com,")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.MasterKeyPrevious) != 2 || c.MasterKeyPrevious[1][0] != 2 {
		t.Fatalf("previous keys %v", c.MasterKeyPrevious)
	}
	if len(c.CodecOrigins) != 2 || c.CodecOrigins[1] != "https://temporal.example.com" {
		t.Fatalf("codec origins %q", c.CodecOrigins)
	}
	for _, bad := range []string{"short", k1 + ",", k1 + ",not base64"} {
		t.Setenv("CANDOR_MASTER_KEY_PREVIOUS", bad)
		if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "CANDOR_MASTER_KEY_PREVIOUS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestFormatDuration_ReadsBackWithParseDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0", 14 * 24 * time.Hour: "14d", 36 * time.Hour: "36h",
		90 * time.Minute: "90m", 90 * time.Second: "90s"} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}
