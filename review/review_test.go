package review_test

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/locale"
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
	e, err := review.Render(store.Wording{Subject: "How was order {order}?"}, c)
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
	e, err := review.TestEmail(shop, review.ShopWording(shop, nil, "en"), "en", "https://c.example")
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
	plain, err := review.Render(store.Wording{Subject: "Order {order}"}, c)
	if err != nil {
		t.Fatal(err)
	}
	c.ObjectionNotice = true
	soft, err := review.Render(store.Wording{Subject: "Order {order}"}, c)
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

// Every supported language has every text of the email.
func TestText_HasEveryKeyInEverySupportedLanguage(t *testing.T) {
	if m := review.EmailText.Missing(); len(m) > 0 {
		t.Errorf("missing email text: %v", m)
	}
	for _, key := range []string{review.KeySubject, review.KeyOpening, review.KeyButton, review.KeyReminderPrefix,
		review.KeyReminderLine, review.KeyAsk, review.KeyUnsubscribeAsk, review.KeyUnsubscribeLink, review.KeyObjection, review.KeySampleProduct} {
		if !review.EmailText.Has(key) {
			t.Errorf("key %q has no text", key)
		}
	}
	for _, lang := range locale.Supported {
		for _, key := range []string{review.KeySubject, review.KeyOpening, review.KeyReminderLine} {
			if !strings.Contains(review.EmailText.T(lang, key), "{order}") {
				t.Errorf("%s %s does not name the order", lang, key)
			}
		}
	}
}

// The email is written wholly in its language, with the html lang set:
// subject, opening, button, reminder prefix, unsubscribe line and the
// objection notice.
func TestRender_WritesInTheContentsLanguage(t *testing.T) {
	c := review.Content{Lang: "de", OrderName: "#1001", ObjectionNotice: true, Unsubscribe: "https://x.example/u/1",
		Products: []review.Product{{Title: "Hemd", Link: "https://x.example/r/1"}}}
	e, err := review.Render(store.Wording{}, c)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Wie gefällt Ihnen Ihre Bestellung #1001?" {
		t.Errorf("subject = %q", e.Subject)
	}
	for _, want := range []string{"Vielen Dank für Ihre Bestellung", "Jetzt bewerten", "Abmelden", "Übermittlungskosten nach den Basistarifen"} {
		if !strings.Contains(e.Text, want) || !strings.Contains(e.HTML, want) {
			t.Errorf("%q missing from the German text or HTML:\n%s", want, e.Text)
		}
	}
	if !strings.Contains(e.HTML, `<html lang="de">`) {
		t.Errorf("html lang not set: %.80s", e.HTML)
	}
	c.Reminder, c.Lang = true, "pt-BR"
	if e, err = review.Render(store.Wording{}, c); err != nil || e.Subject != "Lembrete: O que você achou do seu pedido #1001?" {
		t.Errorf("pt-BR reminder subject = %q, %v", e.Subject, err)
	}
	c.Lang = "xx"
	if e, err = review.Render(store.Wording{}, c); err != nil || !strings.Contains(e.HTML, `<html lang="en">`) {
		t.Errorf("an unsupported language does not fall back to English: %v %.80s", err, e.HTML)
	}
}

// A shop's own wording replaces the shipped text, and is escaped: text
// that looks like HTML or a template reaches the customer as text.
func TestRender_UsesTheShopsWordingEscaped(t *testing.T) {
	c := review.Content{Lang: "it", OrderName: "#7", Unsubscribe: "https://x.example/u/1",
		Products: []review.Product{{Title: "Borsa", Link: "https://x.example/r/1"}}}
	w := store.Wording{Subject: "Ordine {order}: com'è?", Opening: "Ciao! Il tuo ordine {order} & co <b>", Button: "Dimmi {{.Unsubscribe}}"}
	e, err := review.Render(w, c)
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Ordine #7: com'è?" {
		t.Errorf("subject = %q", e.Subject)
	}
	if !strings.Contains(e.HTML, "Ciao! Il tuo ordine <strong>#7</strong> &amp; co &lt;b&gt;") || strings.Contains(e.HTML, "<b>") {
		t.Errorf("opening not used or not escaped: %s", e.HTML)
	}
	if !strings.Contains(e.HTML, "Dimmi {{.Unsubscribe}}") || !strings.Contains(e.Text, "Dimmi {{.Unsubscribe}}") {
		t.Errorf("button text was not kept as text: %s", e.Text)
	}
	// The shop's opening is the first email's; a reminder says it is one.
	c.Reminder = true
	if e, err = review.Render(w, c); err != nil || !strings.Contains(e.Text, "Un piccolo promemoria sul tuo ordine #7.") || e.Subject != "Promemoria: Ordine #7: com'è?" {
		t.Errorf("reminder: %q %v\n%s", e.Subject, err, e.Text)
	}
}
