package keys

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// LinkKind says what a link token opens.
type LinkKind string

const (
	LinkReview      LinkKind = "r"
	LinkUnsubscribe LinkKind = "u"
	// LinkLogin is a merchant's login link (`candor shops login`); its
	// RequestID field holds the link's own random ID, for single use.
	LinkLogin LinkKind = "l"
)

// Link is what a signed link token carries. It holds the opaque request ID,
// never an order or customer ID.
type Link struct {
	Kind      LinkKind `json:"k"`
	Shop      string   `json:"s"`
	RequestID string   `json:"q"`
	ProductID int64    `json:"p,omitempty"`
	Expires   int64    `json:"e"` // unix seconds
}

// Errors from ParseLink, kept distinct so pages can say which it was.
var (
	ErrLinkInvalid = errors.New("link is not valid")
	ErrLinkExpired = errors.New("link has expired")
)

// linkKey is the key for a kind of link: login links have their own,
// rotating key (rotating.go).
func (r *Ring) linkKey(kind LinkKind) []byte {
	if kind == LinkLogin {
		return r.loginKey()
	}
	return r.link
}

// SignLink makes a URL-safe token for l.
func (r *Ring) SignLink(l Link) string {
	body, _ := json.Marshal(l) // a struct of strings and ints cannot fail
	p := base64.RawURLEncoding.EncodeToString(body)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(r.linkKey(l.Kind), p)[:18])
}

// ParseLink checks a token's signature, kind and expiry.
func (r *Ring) ParseLink(token string, kind LinkKind, now time.Time) (Link, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 1024 || !IsTokenText(token) {
		return Link{}, ErrLinkInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(r.linkKey(kind), p)[:18]) {
		return Link{}, ErrLinkInvalid
	}
	body, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Link{}, ErrLinkInvalid
	}
	var l Link
	if err := json.Unmarshal(body, &l); err != nil || l.Kind != kind || l.Shop == "" || l.RequestID == "" {
		return Link{}, ErrLinkInvalid
	}
	if now.Unix() >= l.Expires {
		return l, ErrLinkExpired
	}
	return l, nil
}

// IsTokenText reports whether s holds only the base64url alphabet and dots.
// Go's base64 decoder skips CR and LF, so without this a token with a line
// break added would verify as well: one link, many tokens. Session tokens
// (JWTs) are the same alphabet.
func IsTokenText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
