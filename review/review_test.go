package review_test

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

func TestParseWorkflowID_ReversesWorkflowID(t *testing.T) {
	id := review.WorkflowID("a-shop.myshopify.com", 1001)
	if id != "review/a-shop.myshopify.com/1001" {
		t.Fatalf("WorkflowID = %q", id)
	}
	shop, order, ok := review.ParseWorkflowID(id)
	if !ok || shop != "a-shop.myshopify.com" || order != 1001 {
		t.Fatalf("ParseWorkflowID(%q) = %q %d %t", id, shop, order, ok)
	}
}

// Retention deletes the histories of what it parses, and the codec picks a
// request's data key by it: a malformed or foreign ID is never a request.
func TestParseWorkflowID_RefusesWhatWorkflowIDNeverMakes(t *testing.T) {
	for _, id := range []string{
		"", "review/", "review/a.myshopify.com", "review/a.myshopify.com/", "review//12",
		"review/a.myshopify.com/12x", "review/a.myshopify.com/-3", "review/a.myshopify.com/0",
		"review/a.myshopify.com/+12", "review/a.myshopify.com/012", "review/a.myshopify.com/12/x",
		"review/evil.com/12", "review/a.myshopify.com.evil.com/12", "review/-a.myshopify.com/12",
		"privacy/customers_redact/a.myshopify.com/pr_1", "retention/manual/x", "Review/a.myshopify.com/12",
	} {
		if shop, order, ok := review.ParseWorkflowID(id); ok {
			t.Errorf("ParseWorkflowID(%q) = %q %d, want refused", id, shop, order)
		}
	}
}

func TestLabel_SaysKnownReasonsAndSpellsOutOthers(t *testing.T) {
	for code, want := range map[string]string{
		string(review.ReasonUnsubscribed): "customer unsubscribed",
		string(review.ReasonSendFailed):   "sending failed",
		"sendgrid_rejected_400":           "sendgrid rejected 400",
	} {
		if got := review.Label(code); got != want {
			t.Errorf("Label(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestRender_FillsTheSubjectAndShowsEveryLinkInBothBodies(t *testing.T) {
	c := review.Content{OrderName: "#1001", Reminder: true, Unsubscribe: "https://c.example/u/tok",
		Products: []review.Product{{Title: "Linen <Shirt>", Link: "https://c.example/r/a"}, {Title: "Socks", Link: "https://c.example/r/b"}}}
	e, err := review.Render("How was order {order}?", c)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Reminder: How was order #1001?" {
		t.Errorf("subject = %q", e.Subject)
	}
	for _, want := range []string{"A gentle reminder", "#1001", "https://c.example/r/a", "https://c.example/r/b", "https://c.example/u/tok"} {
		if !strings.Contains(e.Text, want) || !strings.Contains(e.HTML, want) {
			t.Errorf("%q missing from text or HTML", want)
		}
	}
	if strings.Contains(e.HTML, "<Shirt>") || !strings.Contains(e.HTML, "Linen &lt;Shirt&gt;") {
		t.Errorf("HTML does not escape a product title: %s", e.HTML)
	}
}

func TestTestEmail_LinksToTheShopsReviewDestination(t *testing.T) {
	shop := store.Shop{Domain: "a.myshopify.com", Settings: store.Settings{ReviewURL: "https://{shop}/products/{handle}#reviews", Subject: "Order {order}"}}
	e, err := review.TestEmail(shop, "https://c.example")
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "[Test] Order #TEST-1001" {
		t.Errorf("subject = %q", e.Subject)
	}
	if !strings.Contains(e.Text, "https://a.myshopify.com/products/sample-product#reviews") || !strings.Contains(e.Text, "https://c.example/app") {
		t.Errorf("text = %s", e.Text)
	}
}

func TestRender_ObjectionNoticeOnlyWhenAsked(t *testing.T) {
	const notice = "You can object to these emails at any time"
	c := review.Content{OrderName: "#1001", Products: []review.Product{{Title: "Shirt", Link: "https://x.example/r/1"}}, Unsubscribe: "https://x.example/u/1"}
	plain, err := review.Render("Order {order}", c)
	if err != nil {
		t.Fatal(err)
	}
	c.ObjectionNotice = true
	soft, err := review.Render("Order {order}", c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.Text, notice) || strings.Contains(plain.HTML, notice) {
		t.Error("the notice without the soft opt-in")
	}
	if !strings.Contains(soft.Text, notice) || !strings.Contains(soft.HTML, notice) || !strings.Contains(soft.HTML, `href="https://x.example/u/1"`) {
		t.Errorf("no notice with the soft opt-in:\n%s", soft.Text)
	}
}
