package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/keys"
)

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func fetch(t *testing.T, method, u string) page {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(url.Values{"List-Unsubscribe": {"One-Click"}}.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header.Get("Location"), resp.Header}
}

// friendly checks a page a customer can read: HTML, a heading, not cached.
func friendly(t *testing.T, p page, status int, says string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d: %.200s", p.status, status, p.body)
	}
	if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, "<h1>") || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("not a friendly page: %v %.200s", p.header, p.body)
	}
	if !strings.Contains(p.body, says) {
		t.Fatalf("page does not say %q: %.300s", says, p.body)
	}
}

func TestLinks_BadExpiredOrTamperedTokensGetAFriendlyPage(t *testing.T) {
	e := newSGEnv(t)
	m, subject := e.sent(t, "perpetua.lindqvist@example.org")
	rid := m.CustomArgs[sendgrid.CustomArgRequestID]
	later := time.Now().Add(time.Hour).Unix()
	review := e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: rid, ProductID: 42, Expires: later})
	unsub := e.ring.SignLink(keys.Link{Kind: keys.LinkUnsubscribe, Shop: shop, RequestID: rid, Expires: later})
	flip := func(tok string) string { // change one character of the payload
		b := []byte(tok)
		if b[3] == 'A' {
			b[3] = 'B'
		} else {
			b[3] = 'A'
		}
		return string(b)
	}
	otherRing, _ := keys.New(make([]byte, 32))

	for _, c := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"garbage", "/r/not-a-token", 400, "not valid"},
		{"payload changed", "/r/" + flip(review), 400, "not valid"},
		{"signature cut short", "/r/" + review[:len(review)-4], 400, "not valid"},
		{"signed with another key", "/r/" + otherRing.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: rid, ProductID: 42, Expires: later}), 400, "not valid"},
		{"unsubscribe token on /r", "/r/" + unsub, 400, "not valid"},
		{"over 1 KiB", "/r/" + strings.Repeat("a", 1100) + ".b", 400, "not valid"},
		{"expired", "/r/" + e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: rid, ProductID: 42, Expires: time.Now().Add(-time.Minute).Unix()}), 410, "expired"},
		{"request no longer held", "/r/" + e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: "rq_gone", ProductID: 42, Expires: later}), 410, "no longer active"},
		{"token of another shop", "/r/" + e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: "other.myshopify.com", RequestID: rid, ProductID: 42, Expires: later}), 410, "no longer active"},
		{"product not in the order", "/r/" + e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: rid, ProductID: 7, Expires: later}), 404, "not part of the order"},
		{"unsubscribe: garbage", "/u/xyz", 400, "not valid"},
		{"unsubscribe: payload changed", "/u/" + flip(unsub), 400, "not valid"},
		{"unsubscribe: review token on /u", "/u/" + review, 400, "not valid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			friendly(t, fetch(t, http.MethodGet, e.base+c.path), c.status, c.says)
			if strings.HasPrefix(c.path, "/u/") {
				friendly(t, fetch(t, http.MethodPost, e.base+c.path), c.status, c.says)
			}
		})
	}
	if e.suppressed(t, subject) || e.count(t, "registry_entries") != 0 {
		t.Fatal("a bad link changed something")
	}

	// The good review link redirects to the shop's review page.
	if p := fetch(t, http.MethodGet, e.base+"/r/"+review); p.status != 302 || p.location != "https://"+shop+"/products/linen-apron#reviews" {
		t.Fatalf("good review link: %d to %q", p.status, p.location)
	}
}

func TestUnsubscribe_GetShowsAButtonAndOnlyAPostUnsubscribes(t *testing.T) {
	e := newSGEnv(t)
	m, subject := e.sent(t, "rosalind.achterberg@example.org")
	rid := m.CustomArgs[sendgrid.CustomArgRequestID]
	link := e.base + "/u/" + e.ring.SignLink(keys.Link{Kind: keys.LinkUnsubscribe, Shop: shop, RequestID: rid, Expires: time.Now().Add(time.Hour).Unix()})

	// A mail scanner fetches the link, twice: nothing changes.
	for range 2 {
		p := fetch(t, http.MethodGet, link)
		friendly(t, p, 200, "Unsubscribe from review requests?")
		if !strings.Contains(p.body, `<form method="post">`) || !strings.Contains(p.body, `name="List-Unsubscribe" value="One-Click"`) {
			t.Fatalf("the page has no one-click form: %s", p.body)
		}
		if p.header.Get("Content-Security-Policy") != "frame-ancestors 'none'" {
			t.Fatal("the unsubscribe button can be framed")
		}
	}
	if e.suppressed(t, subject) || e.count(t, "registry_entries") != 0 {
		t.Fatal("a GET unsubscribed the customer")
	}

	// The button (or the mail client's one-click) posts: unsubscribed, with
	// its registry entry. Pressing it again changes nothing more.
	for range 2 {
		friendly(t, fetch(t, http.MethodPost, link), 200, "You are unsubscribed")
	}
	if !e.suppressed(t, subject) {
		t.Fatal("the POST did not unsubscribe")
	}
	if n := e.count(t, "registry_entries"); n != 1 {
		t.Fatalf("%d registry entries, want 1", n)
	}
	// Opening the link again says so, and offers no button.
	if p := fetch(t, http.MethodGet, link); !strings.Contains(p.body, "You are unsubscribed") || strings.Contains(p.body, "<form") {
		t.Fatalf("after unsubscribing: %s", p.body)
	}

	// An expired unsubscribe link still works: an objection is never refused.
	m2, subject2 := e.sent(t, "second.customer@example.org")
	expired := e.base + "/u/" + e.ring.SignLink(keys.Link{Kind: keys.LinkUnsubscribe, Shop: shop,
		RequestID: m2.CustomArgs[sendgrid.CustomArgRequestID], Expires: time.Now().Add(-48 * time.Hour).Unix()})
	friendly(t, fetch(t, http.MethodPost, expired), 200, "You are unsubscribed")
	if !e.suppressed(t, subject2) {
		t.Fatal("an expired unsubscribe link was refused")
	}
}
