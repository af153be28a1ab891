package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func ring(t *testing.T, b byte) *Ring {
	t.Helper()
	r, err := New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSeal_RoundTripAndBinding(t *testing.T) {
	r := ring(t, 1)
	s, err := r.Seal([]byte("shpat_secret"), "a.myshopify.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "shpat_secret") || !strings.HasPrefix(s, "v1."+r.KeyID()+".") {
		t.Fatalf("sealed value %q leaks or lacks key ID", s)
	}
	got, err := r.Open(s, "a.myshopify.com")
	if err != nil || string(got) != "shpat_secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := r.Open(s, "b.myshopify.com"); err == nil {
		t.Fatal("opened with the wrong row binding")
	}
	if _, err := ring(t, 2).Open(s, "a.myshopify.com"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other key: err = %v, want ErrWrongKey", err)
	}
	for _, bad := range []string{"", "v1", "v1." + r.KeyID() + ".", "v1." + r.KeyID() + ".AAAA", "v2.x.y"} {
		if _, err := r.Open(bad, "a.myshopify.com"); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestSubject_StableKeyedAndOpaque(t *testing.T) {
	a, b := ring(t, 1), ring(t, 2)
	s := a.Subject("a.myshopify.com", 42)
	if s != a.Subject("a.myshopify.com", 42) {
		t.Fatal("pseudonym not stable")
	}
	if s == b.Subject("a.myshopify.com", 42) || s == a.Subject("b.myshopify.com", 42) || s == a.Subject("a.myshopify.com", 43) {
		t.Fatal("pseudonym does not depend on key, shop and ID")
	}
	if strings.Contains(s, "42") || s == a.GuestSubject("a.myshopify.com", 42) {
		t.Fatalf("pseudonym %q reveals the ID or collides with a guest pseudonym", s)
	}
}

func TestLink_SignParseExpireTamper(t *testing.T) {
	r := ring(t, 1)
	now := time.Unix(1_800_000_000, 0)
	l := Link{Kind: LinkReview, Shop: "a.myshopify.com", RequestID: "rq_x", ProductID: 7, Expires: now.Add(time.Hour).Unix()}
	tok := r.SignLink(l)
	got, err := r.ParseLink(tok, LinkReview, now)
	if err != nil || got != l {
		t.Fatalf("ParseLink = %+v, %v", got, err)
	}
	if _, err := r.ParseLink(tok, LinkUnsubscribe, now); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("wrong kind accepted: %v", err)
	}
	if _, err := r.ParseLink(tok, LinkReview, now.Add(2*time.Hour)); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("expired link: %v", err)
	}
	if _, err := ring(t, 2).ParseLink(tok, LinkReview, now); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("other key accepted: %v", err)
	}
	tampered := "x" + tok[1:]
	if _, err := r.ParseLink(tampered, LinkReview, now); !errors.Is(err, ErrLinkInvalid) {
		t.Fatalf("tampered token accepted: %v", err)
	}
	for _, bad := range []string{"", ".", "abc", "abc.def", strings.Repeat("a", 2000)} {
		if _, err := r.ParseLink(bad, LinkReview, now); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("ParseLink(%q) = %v", bad, err)
		}
	}
}
