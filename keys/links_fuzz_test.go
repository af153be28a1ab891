package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzLinkToken: the /r/, /u/ and login link tokens. A signed token parses
// back to the fields it was signed with (for its kind only, until it
// expires); the same token under another key, and any token changed in one
// byte, with a byte added or with a byte cut, never parses.
func FuzzLinkToken(f *testing.F) {
	f.Add(uint8(0), "a.myshopify.com", "rq_0123456789abcdef", int64(7), int64(3600), uint(0), byte('x'))
	f.Add(uint8(1), "a.myshopify.com", "rq_0123456789abcdef", int64(0), int64(86400), uint(40), byte('.'))
	f.Add(uint8(2), "shop-2.myshopify.com", "ll_00112233445566778899aabbccddeeff", int64(0), int64(60), uint(1000), byte('\n'))
	f.Add(uint8(0), "a.myshopify.com", "rq_x", int64(-1), int64(-5), uint(3), byte(0))
	f.Fuzz(func(t *testing.T, k uint8, shop, requestID string, productID, ttl int64, pos uint, b byte) {
		a, other := ring(t, 1), ring(t, 2)
		now := time.Unix(1_800_000_000, 0)
		kinds := []LinkKind{LinkReview, LinkUnsubscribe, LinkLogin}
		l := Link{Kind: kinds[int(k)%len(kinds)], Shop: shop, RequestID: requestID, ProductID: productID, Expires: now.Unix() + ttl}
		tok := a.SignLink(l)
		got, err := a.ParseLink(tok, l.Kind, now)
		switch {
		case len(tok) > 1024, shop == "", requestID == "":
			if !errors.Is(err, ErrLinkInvalid) {
				t.Fatalf("ParseLink(%+v) = %v, want ErrLinkInvalid", l, err)
			}
			return
		case ttl <= 0:
			if !errors.Is(err, ErrLinkExpired) {
				t.Fatalf("expired link: err = %v", err)
			}
		case err != nil:
			t.Fatalf("a freshly signed link does not parse: %v", err)
		}
		// JSON carries valid UTF-8 only; Candor's fields (shop domains,
		// request IDs) are ASCII.
		if utf8.ValidString(shop) && utf8.ValidString(requestID) && got != l {
			t.Fatalf("round trip: signed %+v, parsed %+v", l, got)
		}
		for _, k := range []LinkKind{LinkReview, LinkUnsubscribe, LinkLogin, ""} {
			if k != l.Kind {
				if _, err := a.ParseLink(tok, k, now); !errors.Is(err, ErrLinkInvalid) {
					t.Fatalf("a %q link parsed as %q: %v", l.Kind, k, err)
				}
			}
		}
		if _, err := other.ParseLink(tok, l.Kind, now); !errors.Is(err, ErrLinkInvalid) {
			t.Fatalf("parsed under another key: %v", err)
		}
		i := int(pos % uint(len(tok)))
		changed := []byte(tok)
		changed[i] ^= b | 1 // never the same byte
		added := bytes.Join([][]byte{[]byte(tok[:i]), {b}, []byte(tok[i:])}, nil)
		cut := tok[:i] + tok[i+1:]
		for what, bad := range map[string]string{"changed": string(changed), "added": string(added), "cut": cut} {
			if _, err := a.ParseLink(bad, l.Kind, now); !errors.Is(err, ErrLinkInvalid) {
				t.Fatalf("a token with a byte %s at %d parsed: %q (err %v)", what, i, bad, err)
			}
		}
	})
}

// Found by FuzzLinkToken: Go's base64 decoder skips line breaks, so a token
// with one added to its signature parsed as the same link.
func TestLinkToken_ALineBreakInTheTokenDoesNotParse(t *testing.T) {
	r := ring(t, 1)
	now := time.Unix(1_800_000_000, 0)
	tok := r.SignLink(Link{Kind: LinkReview, Shop: "a.myshopify.com", RequestID: "rq_1", Expires: now.Unix() + 60})
	if _, err := r.ParseLink(tok, LinkReview, now); err != nil {
		t.Fatal(err)
	}
	dot := strings.IndexByte(tok, '.')
	for _, bad := range []string{tok[:dot+3] + "\n" + tok[dot+3:], tok[:dot+3] + "\r\n" + tok[dot+3:], tok + "\n", tok[:4] + "\r" + tok[4:]} {
		if _, err := r.ParseLink(bad, LinkReview, now); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("ParseLink(%q) = %v, want ErrLinkInvalid", bad, err)
		}
	}
}
