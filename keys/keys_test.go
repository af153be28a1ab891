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

func TestRing_PreviousKeysOpenOnlyTheCurrentSeals(t *testing.T) {
	old, cur := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	r1, _ := New(old)
	sealedOld, _ := r1.Seal([]byte("token"), "shop")
	r2, err := New(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r2.Open(sealedOld, "shop"); err != nil || string(got) != "token" {
		t.Fatalf("previous key: %q, %v", got, err)
	}
	if ids := r2.KeyIDs(); len(ids) != 2 || ids[0] != r2.KeyID() || ids[1] != r1.KeyID() {
		t.Fatalf("KeyIDs = %v", ids)
	}
	resealed, changed, err := r2.Reseal(sealedOld, "shop")
	if err != nil || !changed || SealedKeyID(resealed) != r2.KeyID() {
		t.Fatalf("Reseal: %q %t %v", resealed, changed, err)
	}
	if same, changed, err := r2.Reseal(resealed, "shop"); err != nil || changed || same != resealed {
		t.Fatalf("Reseal of a current value: changed %t, %v", changed, err)
	}
	if _, _, err := r2.Reseal(sealedOld, "other-shop"); err == nil {
		t.Fatal("Reseal ignored the binding")
	}
	r3, _ := New(cur)
	if _, err := r3.Open(sealedOld, "shop"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old value without the old key: %v", err)
	}
	if _, err := New(cur, []byte("short")); err == nil {
		t.Fatal("a short previous key was accepted")
	}
}

func TestRing_IdentitySurvivesAnotherMasterKey(t *testing.T) {
	a := ring(t, 1)
	sealed, err := a.SealIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	if b.Subject("s", 1) == a.Subject("s", 1) {
		t.Fatal("different master keys derived the same pseudonym")
	}
	if err := b.AdoptIdentity(sealed); err != nil {
		t.Fatal(err)
	}
	if b.Subject("s", 1) != a.Subject("s", 1) || b.RequestID("s", 9) != a.RequestID("s", 9) || !b.SigningKey().Equal(a.SigningKey()) {
		t.Fatal("adopted identity differs")
	}
	tok := a.SignLink(Link{Kind: LinkReview, Shop: "s", RequestID: "rq_x", Expires: time.Now().Add(time.Hour).Unix()})
	if _, err := b.ParseLink(tok, LinkReview, time.Now()); err != nil {
		t.Fatalf("a link made before the rotation: %v", err)
	}
	if err := ring(t, 3).AdoptIdentity(sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("adopt without the key: %v", err)
	}
	short, _ := a.Seal([]byte("too short"), "candor/identity")
	if err := a.AdoptIdentity(short); err == nil {
		t.Fatal("adopted identity material of the wrong length")
	}
}

func TestDataKey_SealOpenWrapAndBadInput(t *testing.T) {
	r := ring(t, 1)
	k, err := NewDataKey()
	if err != nil || !strings.HasPrefix(k.ID, DataKeyPrefix) {
		t.Fatalf("NewDataKey: %q, %v", k.ID, err)
	}
	k2, _ := NewDataKey()
	if k2.ID == k.ID {
		t.Fatal("two data keys share an ID")
	}
	s, err := k.Seal([]byte("a@example.org"), "pr_1")
	if err != nil || SealedKeyID(s) != k.ID || strings.Contains(s, "example") {
		t.Fatalf("Seal = %q, %v", s, err)
	}
	if got, err := k.Open(s, "pr_1"); err != nil || string(got) != "a@example.org" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for _, bad := range []string{"", "v1." + k.ID + ".", "v1." + k.ID + ".AAAA", "v1." + k2.ID + "." + strings.SplitN(s, ".", 3)[2], "v1." + k.ID + ".!!"} {
		if _, err := k.Open(bad, "pr_1"); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := k.Open(s, "pr_2"); err == nil {
		t.Error("opened with another binding")
	}
	w, err := r.WrapDataKey(k)
	if err != nil || SealedKeyID(w) != r.KeyID() {
		t.Fatalf("wrap: %q, %v", w, err)
	}
	back, err := r.UnwrapDataKey(k.ID, w)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := back.Open(s, "pr_1"); err != nil || string(got) != "a@example.org" {
		t.Fatalf("unwrapped key: %q, %v", got, err)
	}
	if _, err := r.UnwrapDataKey(k2.ID, w); err == nil {
		t.Fatal("a wrapped key unwrapped under another key's ID")
	}
	if _, err := back.Decrypt([]byte("short"), nil); err == nil {
		t.Fatal("decrypted a too-short ciphertext")
	}
}

// TestAddressKey_SameAddressHowEverTypedOnlyWithinOneShop: the key an
// objection is suppressed under ignores case and surrounding space, differs
// between shops, never shows the address, and survives a master-key rotation.
func TestAddressKey_SameAddressHowEverTypedOnlyWithinOneShop(t *testing.T) {
	r := ring(t, 1)
	const shop, other = "linen.myshopify.com", "wool.myshopify.com"
	k := r.AddressKey(shop, "guest.shopper@example.net")
	if !strings.HasPrefix(k, "adr_") || strings.Contains(k, "guest") {
		t.Fatalf("address key %q", k)
	}
	if got := r.AddressKey(shop, "  Guest.Shopper@EXAMPLE.net \t"); got != k {
		t.Errorf("the same address typed differently has key %q, want %q", got, k)
	}
	if r.AddressKey(other, "guest.shopper@example.net") == k || r.AddressKey(shop, "guest.shopper2@example.net") == k {
		t.Error("another shop or another address has the same key")
	}
	if r.AddressKey(shop, "  ") != "" {
		t.Error("an empty address has a key")
	}
	sealed, err := r.SealIdentity()
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := New(bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.AdoptIdentity(sealed); err != nil {
		t.Fatal(err)
	}
	if rotated.AddressKey(shop, "guest.shopper@example.net") != k {
		t.Error("the address key changed with the master key")
	}
}
