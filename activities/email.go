package activities

import (
	"bytes"
	"html/template"
	"strings"
	texttemplate "text/template"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/store"
)

// emailContent is everything a review request shows: the order name, the
// products and their review links, and the unsubscribe link. There is
// deliberately no field for a name, an address or a price.
type emailContent struct {
	OrderName   string
	Reminder    bool
	Products    []emailProduct
	Unsubscribe string
}

type emailProduct struct {
	Title string
	Link  string
}

const textBody = `{{if .Reminder}}A gentle reminder about your order {{.OrderName}}.{{else}}Thank you for your order {{.OrderName}}.{{end}}

How did it turn out? You can review each product with one click:
{{range .Products}}
- {{.Title}}: {{.Link}}{{end}}

Don't want these emails? Unsubscribe: {{.Unsubscribe}}
`

const htmlBody = `<!doctype html><html lang="en"><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1b1b">
<p>{{if .Reminder}}A gentle reminder about your order <strong>{{.OrderName}}</strong>.{{else}}Thank you for your order <strong>{{.OrderName}}</strong>.{{end}}</p>
<p>How did it turn out? You can review each product with one click:</p>
<ul>{{range .Products}}
<li><a href="{{.Link}}">Review {{.Title}}</a></li>{{end}}
</ul>
<p style="font-size:13px;color:#555">Don't want these emails? <a href="{{.Unsubscribe}}">Unsubscribe</a>.</p>
</body></html>`

var (
	textTmpl = texttemplate.Must(texttemplate.New("text").Parse(textBody))
	htmlTmpl = template.Must(template.New("html").Parse(htmlBody))
)

func render(c emailContent) (text, html string, err error) {
	var t, h bytes.Buffer
	if err := textTmpl.Execute(&t, c); err != nil {
		return "", "", err
	}
	if err := htmlTmpl.Execute(&h, c); err != nil {
		return "", "", err
	}
	return t.String(), h.String(), nil
}

func subjectLine(tmpl, orderName string, reminder bool) string {
	s := strings.ReplaceAll(tmpl, "{order}", orderName)
	if reminder {
		s = "Reminder: " + s
	}
	return s
}

// TestEmail is the review request a customer of shop would get, for a sample
// order, sent to the shop's own address: it shows the sender name, reply
// address, subject and review destination. Its links lead to the shop's
// review destination directly and to the merchant pages, not to a real
// request. profile is the shop as Shopify reports it, read just in time.
func TestEmail(shop store.Shop, profile shopify.ShopProfile, requestID, publicURL string) (sendgrid.Message, error) {
	sample := []store.Product{{ID: 1, Title: "Sample product", Handle: "sample-product"}}
	c := emailContent{OrderName: "#TEST-1001", Unsubscribe: publicURL + "/app"}
	for _, p := range sample {
		c.Products = append(c.Products, emailProduct{Title: p.Title, Link: ReviewURL(shop.ReviewURL, shop.Domain, p)})
	}
	text, html, err := render(c)
	if err != nil {
		return sendgrid.Message{}, err
	}
	return sendgrid.Message{
		RequestID: requestID, FromName: profile.Name, ReplyTo: profile.Contact(),
		Subject: "[Test] " + subjectLine(shop.Subject, c.OrderName, false),
		Text:    text, HTML: html,
	}, nil
}
