package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// order fulfils and delivers o, which starts its review request.
func (s *system) order(t *testing.T, o shopifytest.Order) {
	t.Helper()
	s.shopify.SetOrder(o)
	if got := s.deliver(t, shopify.TopicFulfillmentCreate, shopifytest.NewWebhookID(), shopifytest.FulfillmentPayload(o, "delivered")); got != "started" {
		t.Fatalf("order %d: %s", o.ID, got)
	}
}

// nextOrderOf is the same customer's next order.
func nextOrderOf(o shopifytest.Order, n int64) shopifytest.Order {
	o2 := o
	o2.ID, o2.Name = o.ID+n*1000, fmt.Sprintf("%s-%d", o.Name, n)
	return o2
}

func (s *system) mailTo(t *testing.T, email string) sendgridtest.Mail {
	t.Helper()
	for _, m := range s.mail.Outbox() {
		if len(m.To) == 1 && m.To[0] == email {
			return m
		}
	}
	t.Fatalf("no email to %s", email)
	return sendgridtest.Mail{}
}

func (s *system) suppressions(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.db.Get(&n, `SELECT count(*) FROM suppressions`); err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(u, form)
	} else {
		resp, err = http.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestUnsubscribe_LinkInTheEmailNeedsTheButtonAndThenTheNextOrderGetsNothing(t *testing.T) {
	s := start(t, nil)
	o := shopifytest.DemoOrder(time.Now().UnixNano()%1_000_000_000 + 101)
	s.order(t, o)
	if r := s.result(t, o.ID); r.Status != store.StatusSent {
		t.Fatalf("first order: %+v", r)
	}
	m := s.mailTo(t, o.Customer.Email)

	// The customer's mail provider scans the link in the body: a GET that
	// must not unsubscribe anyone.
	link := regexp.MustCompile(`href="(` + regexp.QuoteMeta(s.url) + `/u/[A-Za-z0-9_.-]+)"`).FindStringSubmatch(m.HTML)
	if link == nil {
		t.Fatalf("no unsubscribe link in the HTML part")
	}
	for range 2 {
		status, page := get(t, http.MethodGet, link[1], nil)
		if status != 200 || !strings.Contains(page, `<form method="post">`) {
			t.Fatalf("GET unsubscribe link: %d %s", status, page)
		}
	}
	if n := s.suppressions(t); n != 0 {
		t.Fatalf("a GET of the link unsubscribed (%d suppressions)", n)
	}

	// The customer presses the button: the page's form posts back.
	status, page := get(t, http.MethodPost, link[1], url.Values{"List-Unsubscribe": {"One-Click"}})
	if status != 200 || !strings.Contains(page, "You are unsubscribed") {
		t.Fatalf("button: %d %s", status, page)
	}

	// The same customer's next order gets nothing.
	o2 := nextOrderOf(o, 1)
	s.order(t, o2)
	if r := s.result(t, o2.ID); r.Status != store.StatusSkipped || r.Reason != review.ReasonUnsubscribed {
		t.Fatalf("next order after unsubscribing: %+v", r)
	}
	if n := len(s.mail.Outbox()); n != 1 {
		t.Fatalf("%d emails, want still 1", n)
	}
	es, err := registry.Entries(context.Background(), s.db, shop)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		found = found || (e.Purpose == registry.PurposeUnsubscribe && e.System == registry.SystemPostgres &&
			e.Action == registry.ActionStored && e.Datum == registry.DatumMarketingPrefs && e.Subject != "")
	}
	if !found {
		t.Fatal("the unsubscribe has no registry entry")
	}
}

func TestSuppression_SignedBounceAndSpamReportStopTheNextOrderForThatCustomerOnly(t *testing.T) {
	// The next orders repeat the first ones' products: without the product
	// cap (docs/sending.md), so only the suppressions decide.
	s := start(t, func(st *store.Settings) { st.ProductOnce = false })
	base := time.Now().UnixNano()%1_000_000_000 + 211
	bounced, complained, blocked := shopifytest.DemoOrder(base), shopifytest.DemoOrder(base+1), shopifytest.DemoOrder(base+2)
	for _, o := range []shopifytest.Order{bounced, complained, blocked} {
		s.order(t, o)
	}
	for _, o := range []shopifytest.Order{bounced, complained, blocked} {
		if r := s.result(t, o.ID); r.Status != store.StatusSent {
			t.Fatalf("first order %d: %+v", o.ID, r)
		}
	}

	// SendGrid reports, in one signed batch: a hard bounce, a spam report,
	// a temporary block (the address is fine) and a delivery.
	status, msg, err := s.mail.PostEvents(context.Background(),
		sendgridtest.Event(s.mailTo(t, bounced.Customer.Email), "bounce", "bounce"),
		sendgridtest.Event(s.mailTo(t, complained.Customer.Email), "spamreport", ""),
		sendgridtest.Event(s.mailTo(t, blocked.Customer.Email), "bounce", "blocked"),
		sendgridtest.Event(s.mailTo(t, blocked.Customer.Email), "delivered", ""))
	if err != nil || status != 200 || msg != "suppressed 2, duplicate 0, ignored 2" {
		t.Fatalf("events: %d %q %v", status, msg, err)
	}

	// Next orders: nothing for the bounced and the complaining customer; the
	// blocked one still gets their email.
	next := map[string]shopifytest.Order{"bounced": nextOrderOf(bounced, 1), "complained": nextOrderOf(complained, 1), "blocked": nextOrderOf(blocked, 1)}
	for _, o := range next {
		s.order(t, o)
	}
	// The skip says why, so the merchant sees a bounce as a bounce.
	for who, want := range map[string]activities.SendResult{
		"bounced":    {Status: store.StatusSkipped, Reason: review.ReasonUndeliverable},
		"complained": {Status: store.StatusSkipped, Reason: review.ReasonSpamReport},
		"blocked":    {Status: store.StatusSent},
	} {
		if r := s.result(t, next[who].ID); r.Status != want.Status || r.Reason != want.Reason {
			t.Errorf("%s customer's next order: %+v, want %+v", who, r, want)
		}
	}
	mails := s.mail.Outbox()
	if len(mails) != 4 || mails[3].To[0] != blocked.Customer.Email {
		t.Fatalf("%d emails, want 4 with the last to the blocked customer", len(mails))
	}

	// Nothing of the customers' addresses was kept or logged, and the
	// registry chain holds.
	dump, logs := s.dump(t), s.logs.String()
	if !strings.Contains(dump, "sendgrid_spamreport") || !strings.Contains(dump, "sendgrid:") {
		t.Fatal("the dump lacks the suppression and the event ID, so the search proves nothing")
	}
	for _, o := range []shopifytest.Order{bounced, complained, blocked} {
		if strings.Contains(dump, o.Customer.Email) || strings.Contains(logs, o.Customer.Email) {
			t.Errorf("%s is stored or logged", o.Customer.Email)
		}
	}
	es, err := registry.Entries(context.Background(), s.db, shop)
	if err != nil {
		t.Fatal(err)
	}
	if bad := registry.VerifyChain(es); bad != -1 {
		t.Fatalf("registry chain broken at %d", bad)
	}
	reads := 0
	for _, e := range es {
		if e.System == registry.SystemSendGrid && e.Action == registry.ActionRead && e.Purpose == registry.PurposeSuppression {
			reads++
		}
	}
	if reads != 2 {
		t.Fatalf("%d SendGrid event reads in the registry, want 2", reads)
	}
}

// guestOrder is a checkout without a customer account.
func guestOrder(id int64, email string) shopifytest.Order {
	o := shopifytest.DemoOrder(id)
	o.Customer, o.GuestEmail = nil, email
	return o
}

// TestSuppression_GuestCheckoutsKeepTheirObjections: three guests (no
// customer account) object, one through the unsubscribe button, one by
// bouncing and one by a spam report (signed SendGrid events). Each one's
// next guest order, with the address typed in another case and with
// spaces, is skipped for that reason; a fourth guest still gets their email.
// Nothing of the addresses is stored or logged.
func TestSuppression_GuestCheckoutsKeepTheirObjections(t *testing.T) {
	s := start(t, func(st *store.Settings) { st.ConsentMode = store.ConsentNone }) // guests carry no consent state
	base := time.Now().UnixNano()%1_000_000_000 + 307
	addr := map[string]string{
		"unsubscribed": fmt.Sprintf("guest.unsub.%d@example.net", base),
		"bounced":      fmt.Sprintf("guest.bounce.%d@example.net", base),
		"complained":   fmt.Sprintf("guest.spam.%d@example.net", base),
		"other":        fmt.Sprintf("guest.other.%d@example.net", base),
	}
	first := map[string]shopifytest.Order{}
	for i, who := range []string{"unsubscribed", "bounced", "complained", "other"} {
		first[who] = guestOrder(base+int64(i), addr[who])
		s.order(t, first[who])
	}
	for who, o := range first {
		if r := s.result(t, o.ID); r.Status != store.StatusSent {
			t.Fatalf("%s guest's first order: %+v", who, r)
		}
	}

	m := s.mailTo(t, addr["unsubscribed"])
	link := regexp.MustCompile(`href="(` + regexp.QuoteMeta(s.url) + `/u/[A-Za-z0-9_.-]+)"`).FindStringSubmatch(m.HTML)
	if link == nil {
		t.Fatalf("no unsubscribe link in the HTML part")
	}
	if status, page := get(t, http.MethodPost, link[1], url.Values{"List-Unsubscribe": {"One-Click"}}); status != 200 || !strings.Contains(page, "You are unsubscribed") {
		t.Fatalf("unsubscribe: %d %s", status, page)
	}
	status, msg, err := s.mail.PostEvents(context.Background(),
		sendgridtest.Event(s.mailTo(t, addr["bounced"]), "bounce", "bounce"),
		sendgridtest.Event(s.mailTo(t, addr["complained"]), "spamreport", ""))
	if err != nil || status != 200 || msg != "suppressed 2, duplicate 0, ignored 0" {
		t.Fatalf("events: %d %q %v", status, msg, err)
	}

	// Their next guest checkouts: the same address, typed differently.
	want := map[string]activities.SendResult{
		"unsubscribed": {Status: store.StatusSkipped, Reason: review.ReasonUnsubscribed},
		"bounced":      {Status: store.StatusSkipped, Reason: review.ReasonUndeliverable},
		"complained":   {Status: store.StatusSkipped, Reason: review.ReasonSpamReport},
		"other":        {Status: store.StatusSent},
	}
	next := map[string]shopifytest.Order{}
	for who, o := range first {
		typed := addr[who]
		if who != "other" {
			typed = "  " + strings.ToUpper(typed[:1]) + typed[1:strings.Index(typed, "@")] + strings.ToUpper(typed[strings.Index(typed, "@"):]) + " "
		}
		next[who] = guestOrder(o.ID+500_000, typed)
		s.order(t, next[who])
	}
	for who, w := range want {
		if r := s.result(t, next[who].ID); r.Status != w.Status || r.Reason != w.Reason {
			t.Errorf("%s guest's next order: %+v, want %+v", who, r, w)
		}
	}
	if n := len(s.mail.Outbox()); n != 5 {
		t.Errorf("%d emails, want 5 (four first orders and the other guest's next)", n)
	}

	dump, logs := s.dump(t), s.logs.String()
	if !strings.Contains(dump, "adr_") {
		t.Fatal("the dump holds no address key, so the search below proves nothing")
	}
	for _, a := range addr {
		if strings.Contains(strings.ToLower(dump), a) || strings.Contains(strings.ToLower(logs), a) {
			t.Errorf("%s is stored or logged", a)
		}
	}
}
