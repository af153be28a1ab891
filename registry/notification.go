package registry

import (
	"io"
	"sort"
	"strings"
	"text/template"
	"time"
)

// The draft breach notification an incident's impact produces, one per
// shop: the merchant is the controller, who notifies the supervisory
// authority (GDPR Art. 33, within 72 hours) or the ANPD (LGPD Art. 48).
// It carries the facts the registry knows and marks what a person must
// write. The headings follow GDPR Art. 33(3)(a)–(d) and LGPD Art. 48 §1
// I–VI.

var notificationTemplate = template.Must(template.New("notification").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
	"join": strings.Join,
}).Parse(`# Draft notification of a personal data breach: {{.Shop}}

Prepared by Candor's operator for the merchant (the controller), from the data-flow
registry, on {{date .Now}}. Everything marked [TO FILL] needs a person.
The 72-hour clock (GDPR Art. 33(1)) runs from when the controller became aware: [TO FILL].

## What happened
- System: {{.System.Name}} ({{.System.Key}}), operated by {{.System.Operator}}, {{.System.Location}}.
- Window: {{date .Since}} to {{date .Until}}.
- Description of the incident: [TO FILL]

## (GDPR 33(3)(a); LGPD 48 §1 I, II) Nature of the breach, the data and the people
- Data subjects concerned: {{len .Subjects}} (customers of the shop, identified to the merchant by order name below).
- Personal data records concerned: {{.Records}}.
- Categories of personal data:
{{range .Categories}}  - {{.Key}}: {{.Records}} records ({{.Description}})
{{end}}- No special categories of data (GDPR Art. 9; LGPD Art. 5 II) are processed by Candor.

Customers concerned (pseudonym: order names, for the merchant to reach them; "no longer held" when retention deleted the request):
{{range .Subjects}}  - {{if .Subject}}{{.Subject}}{{else}}(customer not identified; request {{join .Refs ", "}}){{end}}: {{if .OrderNames}}{{join .OrderNames ", "}}{{else}}order name no longer held{{end}}
{{end}}
## (GDPR 33(3)(b)) Contact point
- Data protection officer or other contact: [TO FILL: name, email, phone]

## (GDPR 33(3)(c); LGPD 48 §1 IV) Likely consequences and risks
- [TO FILL: e.g. unwanted email, phishing using the order number]

## (LGPD 48 §1 III) Technical and security measures protecting the data
{{range .System.Security}}- {{.}}
{{end}}
## (GDPR 33(3)(d); LGPD 48 §1 VI) Measures taken or proposed
- [TO FILL: containment, credentials rotated (candor tokens rotate, keys), customers informed (GDPR Art. 34)]

## (LGPD 48 §1 V) Reasons for any delay
- [TO FILL, or "none"]
`))

type notificationCategory struct {
	Key, Description string
	Records          int
}

// DraftNotification writes the draft for shop's part of im.
func DraftNotification(w io.Writer, im Impact, shop string, now time.Time) error {
	sys, _ := SystemByKey(im.System)
	var subjects []ImpactSubject
	counts := map[string]int{}
	records := 0
	for _, s := range im.Subjects {
		if s.Shop != shop {
			continue
		}
		subjects = append(subjects, s)
		records += s.Records
	}
	for _, s := range subjects {
		for c, n := range s.ByCategory {
			counts[c] += n
		}
	}
	var cats []notificationCategory
	for k, n := range counts {
		desc := ""
		for _, c := range Categories {
			if c.Key == k {
				desc = c.Description
			}
		}
		cats = append(cats, notificationCategory{Key: k, Description: desc, Records: n})
	}
	sort.Slice(cats, func(i, j int) bool { return cats[i].Key < cats[j].Key })
	return notificationTemplate.Execute(w, map[string]any{"Shop": shop, "Now": now, "System": sys, "Since": im.Since, "Until": im.Until,
		"Subjects": subjects, "Records": records, "Categories": cats})
}
