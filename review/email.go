package review

import (
	"bytes"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/candorhq/candor/store"
)

// Content is everything a review request shows: the order name, the
// products and their review links, and the unsubscribe link. There is
// deliberately no field for a name, an address or a price.
type Content struct {
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

const textBody = `{{if .Reminder}}A gentle reminder about your order {{.OrderName}}.{{else}}Thank you for your order {{.OrderName}}.{{end}}

How did it turn out? You can review each product with one click:
{{range .Products}}
- {{.Title}}: {{.Link}}{{end}}

Don't want these emails? Unsubscribe: {{.Unsubscribe}}
{{if .ObjectionNotice}}
We email you about your purchase because you are our customer. You can object to these emails at any time, at no cost other than your usual connection charges, with the unsubscribe link above.
{{end}}`

const htmlBody = `<!doctype html><html lang="en"><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1b1b">
<p>{{if .Reminder}}A gentle reminder about your order <strong>{{.OrderName}}</strong>.{{else}}Thank you for your order <strong>{{.OrderName}}</strong>.{{end}}</p>
<p>How did it turn out? You can review each product with one click:</p>
<ul>{{range .Products}}
<li><a href="{{.Link}}">Review {{.Title}}</a></li>{{end}}
</ul>
<p style="font-size:13px;color:#555">Don't want these emails? <a href="{{.Unsubscribe}}">Unsubscribe</a>.</p>
{{if .ObjectionNotice}}<p style="font-size:13px;color:#555">We email you about your purchase because you are our customer. You can object to these emails at any time, at no cost other than your usual connection charges, with the <a href="{{.Unsubscribe}}">unsubscribe link</a>.</p>
{{end}}</body></html>`

var (
	textTmpl = texttemplate.Must(texttemplate.New("text").Parse(textBody))
	htmlTmpl = template.Must(template.New("html").Parse(htmlBody))
)

// Render renders c; subject is the shop's subject template, where {order}
// stands for the order name.
func Render(subject string, c Content) (Email, error) {
	var t, h bytes.Buffer
	if err := textTmpl.Execute(&t, c); err != nil {
		return Email{}, err
	}
	if err := htmlTmpl.Execute(&h, c); err != nil {
		return Email{}, err
	}
	return Email{Subject: subjectLine(subject, c.OrderName, c.Reminder), Text: t.String(), HTML: h.String()}, nil
}

func subjectLine(tmpl, orderName string, reminder bool) string {
	s := strings.ReplaceAll(tmpl, "{order}", orderName)
	if reminder {
		s = "Reminder: " + s
	}
	return s
}

// TestEmail is the review request a customer of shop would get, for a sample
// order: it shows the subject and review destination. Its links lead to the
// shop's review destination directly and to the merchant pages
// (publicURL/app), not to a real request.
func TestEmail(shop store.Shop, publicURL string) (Email, error) {
	sample := []store.Product{{ID: 1, Title: "Sample product", Handle: "sample-product"}}
	c := Content{OrderName: "#TEST-1001", Unsubscribe: publicURL + "/app"}
	for _, p := range sample {
		c.Products = append(c.Products, Product{Title: p.Title, Link: ReviewURL(shop.ReviewURL, shop.Domain, p)})
	}
	e, err := Render(shop.Subject, c)
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
