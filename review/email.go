package review

import (
	"bytes"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/store"
)

// Content is everything a review request shows: the order name, the
// products and their review links, and the unsubscribe link, in one
// language. There is deliberately no field for a name, an address or a
// price.
type Content struct {
	// Lang is the language to write in, one of locale.Supported; anything
	// else writes in locale.Default.
	Lang        string
	OrderName   string
	Reminder    bool
	Products    []Product
	Unsubscribe string
	// ObjectionNotice adds the notice the EU soft opt-in requires in every
	// email (store.ConsentSoftOptIn): the customer may object at any time,
	// at no cost beyond their usual connection charges (German UWG § 7(3)
	// no. 4; GDPR Art. 21(4)).
	ObjectionNotice bool
}

// Product is one product's line in the email.
type Product struct {
	Title string
	Link  string
}

// Email is a rendered review request. It has no recipient, sender or reply
// address: the mailer adds those, after rendering.
type Email struct {
	Subject string
	Text    string
	HTML    string
}

// view is what the templates see: the content and its text, resolved.
type view struct {
	Content
	Opening, Ask, Button                  string
	OpeningParts                          []string // the opening split at {order}, for the HTML's <strong>
	UnsubscribeAsk, UnsubscribeLink, Note string
}

const textBody = `{{.Opening}}

{{.Ask}}
{{range .Products}}
- {{.Title}} ({{$.Button}}): {{.Link}}{{end}}

{{.UnsubscribeAsk}} {{.UnsubscribeLink}}: {{.Unsubscribe}}
{{if .ObjectionNotice}}
{{.Note}}
{{end}}`

const htmlBody = `<!doctype html><html lang="{{.Lang}}"><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1b1b">
<p>{{range $i, $p := .OpeningParts}}{{if $i}}<strong>{{$.OrderName}}</strong>{{end}}{{$p}}{{end}}</p>
<p>{{.Ask}}</p>
<ul>{{range .Products}}
<li style="margin:0 0 .75em">{{.Title}}<br><a href="{{.Link}}" style="display:inline-block;margin-top:.25em;padding:.4em .9em;border-radius:4px;background:#1b1b1b;color:#fff;text-decoration:none">{{$.Button}}</a></li>{{end}}
</ul>
<p style="font-size:13px;color:#555">{{.UnsubscribeAsk}} <a href="{{.Unsubscribe}}">{{.UnsubscribeLink}}</a>.</p>
{{if .ObjectionNotice}}<p style="font-size:13px;color:#555">{{.Note}}</p>
{{end}}</body></html>`

var (
	textTmpl = texttemplate.Must(texttemplate.New("text").Parse(textBody))
	htmlTmpl = template.Must(template.New("html").Parse(htmlBody))
)

// Render renders c in c.Lang. w is the shop's own wording for that
// language (ShopWording); each empty field takes the shipped text. {order}
// in the subject and the opening stands for the order name. Every text,
// the shop's included, is escaped in the HTML.
func Render(w store.Wording, c Content) (Email, error) {
	if !locale.IsSupported(c.Lang) {
		c.Lang = locale.Default
	}
	t := func(key string) string { return EmailText.T(c.Lang, key) }
	or := func(own, key string) string {
		if own != "" {
			return own
		}
		return t(key)
	}
	opening := or(w.Opening, KeyOpening)
	if c.Reminder {
		// The shop's opening line thanks for the order; a reminder says
		// what it is.
		opening = t(KeyReminderLine)
	}
	v := view{Content: c, Opening: strings.ReplaceAll(opening, "{order}", c.OrderName),
		OpeningParts: strings.Split(opening, "{order}"), Ask: t(KeyAsk), Button: or(w.Button, KeyButton),
		UnsubscribeAsk: t(KeyUnsubscribeAsk), UnsubscribeLink: t(KeyUnsubscribeLink), Note: t(KeyObjection)}
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, v); err != nil {
		return Email{}, err
	}
	if err := htmlTmpl.Execute(&hb, v); err != nil {
		return Email{}, err
	}
	subject := strings.ReplaceAll(or(w.Subject, KeySubject), "{order}", c.OrderName)
	if c.Reminder {
		subject = t(KeyReminderPrefix) + subject
	}
	return Email{Subject: subject, Text: tb.String(), HTML: hb.String()}, nil
}

// ShopWording is shop's wording in lang, from its saved wordings: the
// English subject is the shop's Subject setting.
func ShopWording(shop store.Shop, ws store.Wordings, lang string) store.Wording {
	w := ws[lang]
	if lang == locale.Default {
		w.Subject = shop.Subject
	}
	return w
}

// SampleOrder is the order name the test email and the settings preview
// show.
const SampleOrder = "#TEST-1001"

// TestEmail is the review request a customer of shop would get in lang,
// with w the shop's wording in it (ShopWording), for a sample order: it
// shows the subject, the wording and the review destination. Its links
// lead to the shop's review destination directly and to the merchant
// pages (publicURL/app), not to a real request.
func TestEmail(shop store.Shop, w store.Wording, lang, publicURL string) (Email, error) {
	sample := []store.Product{{ID: 1, Title: EmailText.T(lang, KeySampleProduct), Handle: "sample-product"}}
	c := Content{Lang: lang, OrderName: SampleOrder, Unsubscribe: publicURL + "/app",
		ObjectionNotice: shop.ConsentMode == store.ConsentSoftOptIn}
	for _, p := range sample {
		c.Products = append(c.Products, Product{Title: p.Title, Link: ReviewURL(shop.ReviewURL, shop.Domain, p)})
	}
	e, err := Render(w, c)
	if err != nil {
		return Email{}, err
	}
	e.Subject = "[Test] " + e.Subject
	return e, nil
}

// ReviewURL fills a shop's review-destination template for one product.
func ReviewURL(tmpl, shop string, p store.Product) string {
	handle := p.Handle
	if handle == "" {
		handle = strconv.FormatInt(p.ID, 10)
	}
	return strings.NewReplacer("{shop}", shop, "{product_id}", strconv.FormatInt(p.ID, 10),
		"{handle}", url.PathEscape(handle)).Replace(tmpl)
}
