package web

// appHTML holds the /app templates. No JavaScript: every action is a link or
// a form. Colours meet WCAG AA contrast on white (#1b1b1b text, #0a4fb4
// links, #a4000f errors); focus is always visible.
const appHTML = `
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}} · Candor</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff}
a{color:#0a4fb4}a:focus,button:focus,input:focus,select:focus{outline:3px solid #0a4fb4;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header{background:#f3f4f6;border-bottom:1px solid #c9ccd1;padding:.75rem 1.5rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}
header nav a[aria-current]{font-weight:700;color:#1b1b1b}
main{max-width:52rem;margin:0 auto;padding:1rem 1.5rem 3rem}
fieldset{border:1px solid #c9ccd1;border-radius:6px;margin:0 0 1.25rem;padding:.75rem 1rem}
legend{font-weight:700;padding:0 .25rem}
label{display:block;font-weight:600;margin-top:.75rem}
input[type=text],input[type=email]{font:inherit;width:100%;max-width:32rem;padding:.4rem;border:1px solid #6b7280;border-radius:4px;box-sizing:border-box}
input[aria-invalid=true]{border:2px solid #a4000f}
.hint{color:#4b5563;margin:.15rem 0 0;font-size:.95rem}
.error{color:#a4000f;font-weight:600;margin:.25rem 0 0}
.radio label{display:inline;font-weight:400;margin:0 1rem 0 .25rem}
button{font:inherit;background:#0a4fb4;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;cursor:pointer}
button.link{background:none;color:#0a4fb4;text-decoration:underline;padding:0}
.notice{background:#e7f5ec;border:1px solid #1e7b3c;padding:.5rem 1rem;border-radius:4px}
.alert{background:#fdecee;border:1px solid #a4000f;padding:.5rem 1rem;border-radius:4px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #c9ccd1;vertical-align:top}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
</style></head><body>
<a class="skip" href="#main">Skip to content</a>
<header>
<strong>Candor</strong>{{if .CSRF}}<span>{{.Shop}}</span>
<nav aria-label="Candor"><ul>
<li><a href="/app"{{if eq .Nav "overview"}} aria-current="page"{{end}}>Overview</a></li>
<li><a href="/app/settings"{{if eq .Nav "settings"}} aria-current="page"{{end}}>Settings</a></li>
<li><a href="/app/requests"{{if eq .Nav "requests"}} aria-current="page"{{end}}>Review requests</a></li>
<li><a href="/app/registry"{{if eq .Nav "registry"}} aria-current="page"{{end}}>Registry export</a></li>
<li><a href="/app/privacy"{{if eq .Nav "privacy"}} aria-current="page"{{end}}>Privacy requests</a></li>
</ul></nav>
<form method="post" action="/app/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button class="link" type="submit">Log out</button></form>{{end}}
</header>
<main id="main" tabindex="-1">
<h1>{{.Title}}</h1>
{{if .Notice}}<p class="notice" role="status">{{.Notice}}</p>{{end}}
{{if .Error}}<div class="alert" role="alert"><p>{{.Error}}</p>{{if eq .Nav "settings"}}{{template "summary" .Data}}{{end}}</div>{{end}}
{{end}}

{{define "foot"}}</main></body></html>{{end}}

{{define "message"}}{{template "head" .}}{{if .Data}}<p>{{.Data}}</p>{{end}}{{template "foot" .}}{{end}}

{{define "login"}}{{template "head" .}}
<p>This link logs you in to Candor for <strong>{{.Shop}}</strong>. It works once.</p>
<form method="post" action="/app/login">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<input type="hidden" name="token" value="{{.Data.Token}}">
<button type="submit">Log in to {{.Shop}}</button>
</form>
{{template "foot" .}}{{end}}

{{define "overview"}}{{template "head" .}}
{{with .Data.Refused}}<div class="alert" role="alert"><h2>Review requests are not being sent</h2>
<p>{{senderRefused $.Data.Sender}}</p>
<p>Refused since the last email went out: {{.Requests}} review request{{if ne .Requests 1}}s{{end}}, the latest on {{.Latest}}. They show as failed on <a href="/app/requests">Review requests</a>.</p></div>{{end}}
<section aria-labelledby="conn"><h2 id="conn">Connection</h2>
<dl>
<dt>Shop</dt><dd>{{.Shop}}</dd>
<dt>Connected since</dt><dd>{{.Data.ConnectedSince}}</dd>
<dt>Access token</dt><dd>{{.Data.Token}}</dd>
<dt>Sending</dt><dd>{{.Data.Window}}</dd>
{{if .Data.Sender}}<dt>Sender</dt><dd>{{.Data.Sender}}, in your shop's name; replies go to your contact email in Shopify</dd>{{end}}
</dl></section>
<section aria-labelledby="reqs"><h2 id="reqs">Review requests</h2>
<p>Scheduled: {{index .Data.Counts "scheduled"}} · Sent: {{index .Data.Counts "sent"}}{{with index .Data.Counts "sent_unconfirmed"}} · Sent, unconfirmed: {{.}}{{end}} · Skipped: {{index .Data.Counts "skipped"}} · Failed: {{index .Data.Counts "failed"}}.
<a href="/app/requests">See recent review requests</a>.</p></section>
<section aria-labelledby="test"><h2 id="test">Send me a test email</h2>
<form method="post" action="/app/test-email">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset class="radio" aria-describedby="to-hint"><legend>Send it to</legend>
<p class="hint" id="to-hint">You get the email your customers would get, for a sample order, with your shop's name, reply address, subject and review destination. It goes only to your shop's own addresses in Shopify (Settings › General), read when you press the button and not stored.</p>
<input type="radio" id="to-owner" name="to" value="owner" checked><label for="to-owner">The store owner's email</label>
<input type="radio" id="to-contact" name="to" value="contact"><label for="to-contact">The store's contact email</label>
</fieldset>
<p><button type="submit">Send me a test email</button></p>
</form></section>
{{template "foot" .}}{{end}}

{{define "field"}}{{/* dot: map with Form, Name, Hint, Type */}}
{{$f := .Form}}{{$n := .Name}}{{$err := index $f.Errors $n}}
<label for="f-{{$n}}">{{label $n}}</label>
{{if .Hint}}<p class="hint" id="{{$n}}-hint">{{.Hint}}</p>{{end}}
<input type="text" id="f-{{$n}}" name="{{$n}}" value="{{index $f.Values $n}}"{{if .Auto}} autocomplete="{{.Auto}}"{{end}}
 aria-describedby="{{if .Hint}}{{$n}}-hint{{end}}{{if $err}} {{$n}}-error{{end}}"{{if $err}} aria-invalid="true"{{end}}>
{{if $err}}<p class="error" id="{{$n}}-error">{{$err}}</p>{{end}}
{{end}}

{{define "summary"}}{{if .Order}}<ul>{{range .Order}}<li><a href="#f-{{.}}">{{label .}}</a></li>{{end}}</ul>{{end}}{{end}}

{{define "settings"}}{{template "head" .}}
{{$f := .Data}}
<form method="post" action="/app/settings" novalidate>
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset><legend>Timing</legend>
{{template "field" (dict "Form" $f "Name" "delay" "Hint" "How long after delivery to ask, e.g. 7d, 36h, 90m. A change reaches orders already waiting within 6 hours.")}}
{{template "field" (dict "Form" $f "Name" "fallback_delay" "Hint" "When Shopify never reports delivery: how long after fulfillment.")}}
{{template "field" (dict "Form" $f "Name" "reminder" "Hint" "One reminder this long after the first email; 0 for none.")}}
</fieldset>
<fieldset><legend>Retention</legend>
{{template "field" (dict "Form" $f "Name" "keep_requests" "Hint" "How long Candor keeps each review request (order name, products, status), e.g. 180d. It must cover the timing: fallback + delay + reminder, plus a margin per email for the send window and retries.")}}
</fieldset>
<fieldset><legend>Send window</legend>
<p class="hint" id="window-hint">Emails wait until the window opens. The same time twice means any time of day.</p>
{{template "field" (dict "Form" $f "Name" "window_start" "Hint" "HH:MM, 24-hour, e.g. 09:00.")}}
{{template "field" (dict "Form" $f "Name" "window_end" "Hint" "HH:MM; earlier than the start wraps past midnight.")}}
{{template "field" (dict "Form" $f "Name" "time_zone" "Hint" "IANA name such as Europe/Berlin or America/New_York. Empty: your shop's time zone in Shopify.")}}
</fieldset>
{{$perr := index $f.Errors "email_per"}}
<fieldset class="radio" aria-describedby="email_per-hint{{if $perr}} email_per-error{{end}}"><legend>Orders shipped in several parcels</legend>
<p class="hint" id="email_per-hint">One email about the whole order once every parcel is delivered (the fallback delay counts from the last shipment when no delivery comes), or one email per parcel after its own delivery.</p>
<input type="radio" id="f-email_per" name="email_per" value="order"{{if eq (index $f.Values "email_per") "order"}} checked{{end}}><label for="f-email_per">One email per order</label>
<input type="radio" id="email_per-shipment" name="email_per" value="shipment"{{if eq (index $f.Values "email_per") "shipment"}} checked{{end}}><label for="email_per-shipment">One email per shipment</label>
{{if $perr}}<p class="error" id="email_per-error">{{$perr}}</p>{{end}}
</fieldset>
<fieldset><legend>Caps per customer</legend>
{{template "field" (dict "Form" $f "Name" "max_emails" "Hint" "At most this many review emails to one customer in 30 days, reminders included; 0: no cap. A request over it is skipped, and says why on the requests page.")}}
{{template "field" (dict "Form" $f "Name" "max_products" "Hint" "1 to 10 products in one email; the rest of a larger order is left out.")}}
</fieldset>
{{$oerr := index $f.Errors "product_once"}}
<fieldset class="radio" aria-describedby="product_once-hint{{if $oerr}} product_once-error{{end}}"><legend>Same product</legend>
<p class="hint" id="product_once-hint">Ask a customer about a product at most once in 12 months.</p>
<input type="radio" id="f-product_once" name="product_once" value="true"{{if eq (index $f.Values "product_once") "true"}} checked{{end}}><label for="f-product_once">Once a year</label>
<input type="radio" id="product_once-no" name="product_once" value="false"{{if eq (index $f.Values "product_once") "false"}} checked{{end}}><label for="product_once-no">With every order</label>
{{if $oerr}}<p class="error" id="product_once-error">{{$oerr}}</p>{{end}}
</fieldset>
{{$cerr := index $f.Errors "consent_mode"}}
<fieldset class="radio" aria-describedby="consent-hint{{if $cerr}} consent_mode-error{{end}}"><legend>Consent</legend>
<p class="hint" id="consent-hint">The legal ground your review emails go out on. Every eligible customer is asked: reviews are never gated on sentiment. Customers who opted out of your emails are never emailed.</p>
<input type="radio" id="f-consent_mode" name="consent_mode" value="explicit"{{if eq (index $f.Values "consent_mode") "explicit"}} checked{{end}}><label for="f-consent_mode">Explicit consent: only customers subscribed to your email marketing</label>
<input type="radio" id="consent-soft" name="consent_mode" value="soft_opt_in"{{if eq (index $f.Values "consent_mode") "soft_opt_in"}} checked{{end}}><label for="consent-soft">EU soft opt-in: your existing customers, with the objection notice in every email</label>
<input type="radio" id="consent-none" name="consent_mode" value="none"{{if eq (index $f.Values "consent_mode") "none"}} checked{{end}}><label for="consent-none">None: every customer who has not opted out</label>
{{if $cerr}}<p class="error" id="consent_mode-error">{{$cerr}}</p>{{end}}
</fieldset>
<fieldset><legend>Email</legend>
{{template "field" (dict "Form" $f "Name" "review_url" "Hint" (printf "https:// link per product; {shop}, {product_id} and {handle} are filled in. It must stay on your shop's own domains ({shop}, or your primary domain in Shopify) or a review platform: %s. E.g. https://{shop}/products/{handle}#reviews." reviewPlatforms))}}
<p class="hint">Emails come from Candor's sender address in your shop's name, and replies go to your shop's contact email in Shopify.</p>
{{template "field" (dict "Form" $f "Name" "subject" "Hint" "{order} is the order name, e.g. How was your order {order}?")}}
</fieldset>
<fieldset><legend>Excluded products</legend>
{{template "field" (dict "Form" $f "Name" "excluded_products" "Hint" "Product IDs, separated by commas. Left out of the email; an order with nothing else gets no email.")}}
{{template "field" (dict "Form" $f "Name" "excluded_tags" "Hint" "Product tags, separated by commas, e.g. gift card, sample.")}}
</fieldset>
<button type="submit">Save settings</button>
{{template "wording" $f}}
</form>
{{template "foot" .}}{{end}}

{{define "requests"}}{{template "head" .}}
<p>The latest 50 orders. Customers are not shown: Candor keeps no names or addresses. Times are in {{.Data.Zone}}.</p>
{{if .Data.Rows}}
<table><caption class="hint">Review requests, newest first</caption>
<thead><tr><th scope="col">Order</th><th scope="col">Products</th><th scope="col">Status</th><th scope="col">When</th><th scope="col">Reminder</th></tr></thead>
<tbody>{{range .Data.Rows}}
<tr><th scope="row">{{.OrderName}}</th><td>{{range $i, $p := .Products}}{{if $i}}, {{end}}{{$p}}{{end}}</td>
<td>{{.Status}}{{if .Reason}}: {{.Reason}}{{end}}</td>
<td>{{if .Planned}}planned for {{.Planned}}{{else if .Sent}}sent {{.Sent}}{{else}}created {{.Created}}{{end}}</td>
<td>{{.Reminder}}</td></tr>{{end}}
</tbody></table>
{{else}}<p>No review requests yet. They appear here when Shopify reports a fulfilled order.</p>{{end}}
{{template "foot" .}}{{end}}

{{define "privacy"}}{{template "head" .}}
<p>Shopify's privacy webhooks: a customer's request for their data, for erasure, and your shop's uninstall. Candor carries each out in every system and keeps the evidence.</p>
<form method="get" action="/app/privacy">
<label for="customer_id">Shopify customer ID</label>
<input id="customer_id" name="customer_id" inputmode="numeric" value="{{.Data.CustomerID}}" required>
<button>Show the evidence</button>
</form>
{{with .Data.Subject}}<h2>Customer {{$.Data.CustomerID}} <span class="hint">(pseudonym {{.}})</span></h2>{{end}}
{{if .Data.Subject}}{{if .Data.Found}}{{range .Data.Found}}
<section><h3>{{if eq .Kind "customer_redact"}}Erasure{{else}}Data request{{end}} {{.ID}}</h3>
<p>Received {{.ReceivedAt.UTC.Format "2 Jan 2006 15:04 UTC"}}; {{if .CompletedAt}}completed {{.CompletedAt.UTC.Format "2 Jan 2006 15:04 UTC"}}{{else}}{{.Status}}{{end}}.</p>
{{if .Receipts}}<table><caption class="hint">What was asked of each system, and how it was checked</caption>
<thead><tr><th scope="col">System</th><th scope="col">Asked</th><th scope="col">Verified</th><th scope="col">When</th></tr></thead>
<tbody>{{range .Receipts}}<tr><th scope="row">{{.System}}</th><td>{{.Asked}}</td><td>{{.Verified}}</td><td>{{.VerifiedAt.UTC.Format "2 Jan 2006 15:04:05 UTC"}}</td></tr>{{end}}</tbody></table>{{end}}
{{if .Report}}<pre>{{printf "%s" .Report}}</pre>{{end}}
</section>{{end}}
{{else}}<p>No erasure or data request for this customer.</p>{{end}}{{end}}
<h2>Recent requests</h2>
{{if .Data.Recent}}<table><thead><tr><th scope="col">Request</th><th scope="col">Kind</th><th scope="col">Received</th><th scope="col">Status</th></tr></thead>
<tbody>{{range .Data.Recent}}<tr><th scope="row">{{.ID}}</th><td>{{.Kind}}</td><td>{{.ReceivedAt.UTC.Format "2 Jan 2006 15:04 UTC"}}</td><td>{{if .CompletedAt}}completed{{else}}{{.Status}}{{end}}</td></tr>{{end}}</tbody></table>
{{else}}<p>None yet.</p>{{end}}
{{template "foot" .}}{{end}}

{{define "registry"}}{{template "head" .}}
<p>Every time Candor touched your customers' data, hash-chained and signed. Download it, and its signature to verify it offline with <code>candor registry verify FILE --pubkey K</code>. Each download is itself recorded.</p>
<ul>
<li><a href="/app/export?format=csv" download>Download CSV</a></li>
<li><a href="/app/export?format=jsonl" download>Download JSON Lines</a></li>
<li><a href="/app/export?format=ropa" download>Download the record of processing (GDPR Art. 30)</a></li>
</ul>
<h2 id="map-heading">Data-flow map{{if .Data.CustomerID}}: one customer{{end}}</h2>
<form method="get" action="/app/registry"><label>Customer ID (for one customer's map) <input name="customer_id" inputmode="numeric" value="{{.Data.CustomerID}}"></label>
<button type="submit">Show</button>{{if .Data.CustomerID}} <a href="/app/registry">Whole shop</a>{{end}}</form>
<figure aria-labelledby="map-heading">{{.Data.SVG}}</figure>
<table><caption>The map's flows</caption>
<thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Action</th><th scope="col">Data categories</th><th scope="col">Entries</th><th scope="col">Customers</th><th scope="col">Retention</th></tr></thead>
<tbody>{{range .Data.Map.Flows}}<tr><td>{{.From}}</td><td>{{.To}}</td><td>{{.Action}}</td><td>{{range $i, $c := .Categories}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}</td><td>{{.Entries}}</td><td>{{.Subjects}}</td><td>{{.RetentionText}}</td></tr>
{{else}}<tr><td colspan="7">No flows recorded.</td></tr>{{end}}</tbody></table>
<h2>Signatures of your downloads</h2>
{{if .Data.Exports}}<ul>{{range .Data.Exports}}<li><a href="/app/exports/{{.ID}}/signature">{{.ID}}.sig</a> ({{.CreatedAt.UTC.Format "2 Jan 2006 15:04 UTC"}})</li>{{end}}</ul>
{{else}}<p>No downloads yet.</p>{{end}}
{{template "foot" .}}{{end}}
`
