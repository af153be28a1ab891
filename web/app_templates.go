package web

// appHTML holds the /app templates: server-rendered HTML that works with no
// JavaScript (every action is a link or a form), inside the elements
// Shopify prescribes for apps embedded in its admin.
//
// In the admin, App Bridge (first in <head>, after the shopify-api-key
// meta; on an embedded session's pages only) draws the title bar from
// <s-page heading>, the admin's side navigation from <ui-nav-menu>, and the
// save bar for a form marked data-save-bar; embedded.js (app_embedded.go)
// shows a notice as a toast:
//   - https://shopify.dev/docs/api/app-bridge-library ("Getting started":
//     the meta and the app-bridge.js script tag)
//   - https://shopify.dev/docs/api/app-bridge-library/web-components/ui-nav-menu
//     (the first link has rel="home" and the root path)
//   - https://shopify.dev/docs/api/app-home/latest/app-bridge-web-components/save-bar
//     (data-save-bar on a form: Save submits it, Discard resets it)
//
// polaris.js styles <s-page>, <s-section> and <s-banner> like the rest of
// the admin: https://shopify.dev/docs/api/app-home/using-polaris-components
// (s-page and s-section give the admin's spacing).
//
// Neither script is bundled: both come from cdn.shopify.com, as Shopify
// asks. Where they do not load (a standalone browser, the tests here), a
// browser renders an unknown element's children, so the native header,
// nav, headings, forms and tables below are the page; the CSS hides the
// native header and title only when App Bridge has loaded (embedded.js
// marks the page "in-admin"), since the admin then shows both. Colours
// meet WCAG AA contrast on white (#1b1b1b text, #0a4fb4 links, #a4000f
// errors); focus is always visible.
//
// Every text is a key of merchantText (messages.go), looked up with t (or
// tf, with fmt arguments) in the request's language.
const appHTML = `
{{define "head"}}<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
{{if .APIKey}}<meta name="shopify-api-key" content="{{.APIKey}}">
<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>
<script src="/app/embedded.js"></script>
{{end}}<script src="https://cdn.shopify.com/shopifycloud/polaris.js"></script>

<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}} · Candor</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff}
a{color:#0a4fb4}a:focus,button:focus,input:focus,select:focus{outline:3px solid #0a4fb4;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header{background:#f3f4f6;border-bottom:1px solid #c9ccd1;padding:.75rem 1.5rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header nav ui-nav-menu:not(:defined){display:flex;flex-wrap:wrap;gap:1rem}
header nav a[aria-current]{font-weight:700;color:#1b1b1b}
.in-admin body>header,.in-admin h1.page-title{display:none}
main{max-width:52rem;margin:0 auto;padding:1rem 1.5rem 3rem}
s-page:not(:defined),s-banner:not(:defined){display:block}s-section:not(:defined){display:block;margin:0 0 1.25rem}
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
s-banner:defined .notice,s-banner:defined .alert{background:none;border:0;padding:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #c9ccd1;vertical-align:top}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
</style></head><body>
<a class="skip" href="#main">{{t "layout.skip"}}</a>
<header>
<strong>Candor</strong>{{if .CSRF}}<span>{{.Shop}}</span>
<nav aria-label="Candor"><ui-nav-menu>
<a href="/app" rel="home"{{if eq .Nav "overview"}} aria-current="page"{{end}}>{{t "nav.overview"}}</a>
<a href="/app/settings"{{if eq .Nav "settings"}} aria-current="page"{{end}}>{{t "nav.settings"}}</a>
<a href="/app/requests"{{if eq .Nav "requests"}} aria-current="page"{{end}}>{{t "nav.requests"}}</a>
<a href="/app/registry"{{if eq .Nav "registry"}} aria-current="page"{{end}}>{{t "nav.registry"}}</a>
<a href="/app/privacy"{{if eq .Nav "privacy"}} aria-current="page"{{end}}>{{t "nav.privacy"}}</a>
</ui-nav-menu></nav>
<form method="post" action="/app/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button class="link" type="submit">{{t "layout.logout"}}</button></form>{{end}}
</header>
<main id="main" tabindex="-1">
<s-page heading="{{.Title}}">
<h1 class="page-title">{{.Title}}</h1>
{{if .Notice}}<s-banner tone="success"><p class="notice" role="status" data-toast>{{.Notice}}</p></s-banner>{{end}}
{{if .Error}}<s-banner tone="critical"><div class="alert" role="alert"><p>{{.Error}}</p>{{if eq .Nav "settings"}}{{template "summary" .Data}}{{end}}</div></s-banner>{{end}}
{{end}}

{{define "foot"}}</s-page></main></body></html>{{end}}

{{define "message"}}{{template "head" .}}{{if .Data}}<s-section><p>{{.Data}}</p></s-section>{{end}}{{template "foot" .}}{{end}}

{{define "login"}}{{template "head" .}}
<s-section>
<p>{{tf "login.intro" .Shop}}</p>
<form method="post" action="/app/login">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<input type="hidden" name="token" value="{{.Data.Token}}">
<button type="submit">{{tf "login.button" .Shop}}</button>
</form>
</s-section>
{{template "foot" .}}{{end}}

{{define "overview"}}{{template "head" .}}
{{with .Data.Refused}}<s-banner tone="critical"><div class="alert" role="alert"><h2>{{t "overview.refused.heading"}}</h2>
<p>{{senderRefused $.Data.Sender}}</p>
<p>{{if eq .Requests 1}}{{tf "overview.refused.one" .Latest}}{{else}}{{tf "overview.refused.other" .Requests .Latest}}{{end}}
<a href="/app/requests">{{t "overview.refused.see"}}</a></p></div></s-banner>{{end}}
<s-section><section aria-labelledby="conn"><h2 id="conn">{{t "overview.connection"}}</h2>
<dl>
<dt>{{t "overview.shop"}}</dt><dd>{{.Shop}}</dd>
<dt>{{t "overview.since"}}</dt><dd>{{.Data.ConnectedSince}}</dd>
<dt>{{t "overview.token"}}</dt><dd>{{.Data.Token}}</dd>
<dt>{{t "overview.sending"}}</dt><dd>{{.Data.Window}}</dd>
{{if .Data.Sender}}<dt>{{t "overview.sender"}}</dt><dd>{{tf "overview.sender.text" .Data.Sender}}</dd>{{end}}
</dl></section></s-section>
<s-section><section aria-labelledby="reqs"><h2 id="reqs">{{t "overview.requests"}}</h2>
<p>{{t "overview.count.scheduled"}}: {{index .Data.Counts "scheduled"}} · {{t "overview.count.sent"}}: {{index .Data.Counts "sent"}}{{with index .Data.Counts "sent_unconfirmed"}} · {{t "overview.count.sent_unconfirmed"}}: {{.}}{{end}} · {{t "overview.count.skipped"}}: {{index .Data.Counts "skipped"}} · {{t "overview.count.failed"}}: {{index .Data.Counts "failed"}}.
<a href="/app/requests">{{t "overview.requests.see"}}</a>.</p></section></s-section>
{{template "results" .Data.Results}}
<s-section><section aria-labelledby="test"><h2 id="test">{{t "overview.test"}}</h2>
<form method="post" action="/app/test-email">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<fieldset class="radio" aria-describedby="to-hint"><legend>{{t "overview.test.to"}}</legend>
<p class="hint" id="to-hint">{{t "overview.test.hint"}}</p>
<input type="radio" id="to-owner" name="to" value="owner" checked><label for="to-owner">{{t "overview.test.owner"}}</label>
<input type="radio" id="to-contact" name="to" value="contact"><label for="to-contact">{{t "overview.test.contact"}}</label>
</fieldset>
<p><button type="submit">{{t "overview.test"}}</button></p>
</form></section></s-section>
{{template "foot" .}}{{end}}

{{define "field"}}{{/* dot: map with Form, Name, Hint, Auto */}}
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
<form method="post" action="/app/settings" novalidate data-save-bar>
<input type="hidden" name="csrf" value="{{.CSRF}}">
<s-section><fieldset><legend>{{t "settings.timing"}}</legend>
{{template "field" (dict "Form" $f "Name" "delay" "Hint" (t "settings.delay.hint"))}}
{{template "field" (dict "Form" $f "Name" "fallback_delay" "Hint" (t "settings.fallback_delay.hint"))}}
{{template "field" (dict "Form" $f "Name" "reminder" "Hint" (t "settings.reminder.hint"))}}
</fieldset></s-section>
<s-section><fieldset><legend>{{t "settings.retention"}}</legend>
{{template "field" (dict "Form" $f "Name" "keep_requests" "Hint" (t "settings.keep_requests.hint"))}}
</fieldset></s-section>
<s-section><fieldset><legend>{{t "settings.window"}}</legend>
<p class="hint" id="window-hint">{{t "settings.window.hint"}}</p>
{{template "field" (dict "Form" $f "Name" "window_start" "Hint" (t "settings.window_start.hint"))}}
{{template "field" (dict "Form" $f "Name" "window_end" "Hint" (t "settings.window_end.hint"))}}
{{template "field" (dict "Form" $f "Name" "time_zone" "Hint" (t "settings.time_zone.hint"))}}
</fieldset></s-section>
{{$perr := index $f.Errors "email_per"}}
<s-section><fieldset class="radio" aria-describedby="email_per-hint{{if $perr}} email_per-error{{end}}"><legend>{{label "email_per"}}</legend>
<p class="hint" id="email_per-hint">{{t "settings.email_per.hint"}}</p>
<input type="radio" id="f-email_per" name="email_per" value="order"{{if eq (index $f.Values "email_per") "order"}} checked{{end}}><label for="f-email_per">{{t "settings.email_per.order"}}</label>
<input type="radio" id="email_per-shipment" name="email_per" value="shipment"{{if eq (index $f.Values "email_per") "shipment"}} checked{{end}}><label for="email_per-shipment">{{t "settings.email_per.shipment"}}</label>
{{if $perr}}<p class="error" id="email_per-error">{{$perr}}</p>{{end}}
</fieldset></s-section>
<s-section><fieldset><legend>{{t "settings.caps"}}</legend>
{{template "field" (dict "Form" $f "Name" "max_emails" "Hint" (t "settings.max_emails.hint"))}}
{{template "field" (dict "Form" $f "Name" "max_products" "Hint" (t "settings.max_products.hint"))}}
</fieldset></s-section>
{{$oerr := index $f.Errors "product_once"}}
<s-section><fieldset class="radio" aria-describedby="product_once-hint{{if $oerr}} product_once-error{{end}}"><legend>{{label "product_once"}}</legend>
<p class="hint" id="product_once-hint">{{t "settings.product_once.hint"}}</p>
<input type="radio" id="f-product_once" name="product_once" value="true"{{if eq (index $f.Values "product_once") "true"}} checked{{end}}><label for="f-product_once">{{t "settings.product_once.yes"}}</label>
<input type="radio" id="product_once-no" name="product_once" value="false"{{if eq (index $f.Values "product_once") "false"}} checked{{end}}><label for="product_once-no">{{t "settings.product_once.no"}}</label>
{{if $oerr}}<p class="error" id="product_once-error">{{$oerr}}</p>{{end}}
</fieldset></s-section>
{{$cerr := index $f.Errors "consent_mode"}}
<s-section><fieldset class="radio" aria-describedby="consent-hint{{if $cerr}} consent_mode-error{{end}}"><legend>{{label "consent_mode"}}</legend>
<p class="hint" id="consent-hint">{{t "settings.consent.hint"}}</p>
<input type="radio" id="f-consent_mode" name="consent_mode" value="explicit"{{if eq (index $f.Values "consent_mode") "explicit"}} checked{{end}}><label for="f-consent_mode">{{t "settings.consent.explicit"}}</label>
<input type="radio" id="consent-soft" name="consent_mode" value="soft_opt_in"{{if eq (index $f.Values "consent_mode") "soft_opt_in"}} checked{{end}}><label for="consent-soft">{{t "settings.consent.soft_opt_in"}}</label>
<input type="radio" id="consent-none" name="consent_mode" value="none"{{if eq (index $f.Values "consent_mode") "none"}} checked{{end}}><label for="consent-none">{{t "settings.consent.none"}}</label>
{{if $cerr}}<p class="error" id="consent_mode-error">{{$cerr}}</p>{{end}}
</fieldset></s-section>
<s-section><fieldset><legend>{{t "settings.email"}}</legend>
{{template "field" (dict "Form" $f "Name" "review_url" "Hint" (tf "settings.review_url.hint" reviewPlatforms))}}
<p class="hint">{{t "settings.email.from"}}</p>
{{template "field" (dict "Form" $f "Name" "subject" "Hint" (t "settings.subject.hint"))}}
</fieldset></s-section>
{{template "wording" $f}}
<s-section><fieldset><legend>{{t "settings.excluded"}}</legend>
{{template "field" (dict "Form" $f "Name" "excluded_products" "Hint" (t "settings.excluded_products.hint"))}}
{{template "field" (dict "Form" $f "Name" "excluded_tags" "Hint" (t "settings.excluded_tags.hint"))}}
</fieldset></s-section>
<button type="submit">{{t "settings.save"}}</button>
</form>
{{template "foot" .}}{{end}}

{{define "requests"}}{{template "head" .}}
<s-section>
<p>{{tf "requests.intro" .Data.Zone}}</p>
{{if .Data.Rows}}
<table><caption class="hint">{{t "requests.caption"}}</caption>
<thead><tr><th scope="col">{{t "requests.order"}}</th><th scope="col">{{t "requests.products"}}</th><th scope="col">{{t "requests.status"}}</th><th scope="col">{{t "requests.when"}}</th><th scope="col">{{t "requests.reminder"}}</th></tr></thead>
<tbody>{{range .Data.Rows}}
<tr><th scope="row">{{.OrderName}}</th><td>{{range $i, $p := .Products}}{{if $i}}, {{end}}{{$p}}{{end}}</td>
<td>{{.Status}}{{if .Reason}}: {{.Reason}}{{end}}</td>
<td>{{if .Planned}}{{tf "requests.planned" .Planned}}{{else if .Sent}}{{tf "requests.sent" .Sent}}{{else}}{{tf "requests.created" .Created}}{{end}}</td>
<td>{{.Reminder}}</td></tr>{{end}}
</tbody></table>
{{else}}<p>{{t "requests.none"}}</p>{{end}}
</s-section>
{{template "foot" .}}{{end}}

{{define "privacy"}}{{template "head" .}}
<s-section>
<p>{{t "privacy.intro"}}</p>
<form method="get" action="/app/privacy">
<label for="customer_id">{{t "privacy.customer_id"}}</label>
<input id="customer_id" name="customer_id" inputmode="numeric" value="{{.Data.CustomerID}}" required>
<button>{{t "privacy.show"}}</button>
</form>
</s-section>
{{if .Data.Subject}}<s-section>
<h2>{{tf "privacy.customer" $.Data.CustomerID}} <span class="hint">({{tf "privacy.pseudonym" .Data.Subject}})</span></h2>
{{if .Data.Found}}{{range .Data.Found}}
<section><h3>{{if eq .Kind "customer_redact"}}{{tf "privacy.erasure" .ID}}{{else}}{{tf "privacy.data_request" .ID}}{{end}}</h3>
<p>{{tf "privacy.received" (utc .ReceivedAt)}}; {{if .CompletedAt}}{{tf "privacy.completed_at" (utc .CompletedAt)}}{{else}}{{.Status}}{{end}}.</p>
{{if .Receipts}}<table><caption class="hint">{{t "privacy.receipts"}}</caption>
<thead><tr><th scope="col">{{t "privacy.system"}}</th><th scope="col">{{t "privacy.asked"}}</th><th scope="col">{{t "privacy.verified"}}</th><th scope="col">{{t "privacy.when"}}</th></tr></thead>
<tbody>{{range .Receipts}}<tr><th scope="row">{{.System}}</th><td>{{.Asked}}</td><td>{{.Verified}}</td><td>{{utcSeconds .VerifiedAt}}</td></tr>{{end}}</tbody></table>{{end}}
{{if .Report}}<pre>{{printf "%s" .Report}}</pre>{{end}}
</section>{{end}}
{{else}}<p>{{t "privacy.none_for_customer"}}</p>{{end}}
</s-section>{{end}}
<s-section>
<h2>{{t "privacy.recent"}}</h2>
{{if .Data.Recent}}<table><thead><tr><th scope="col">{{t "privacy.request"}}</th><th scope="col">{{t "privacy.kind"}}</th><th scope="col">{{t "privacy.received_col"}}</th><th scope="col">{{t "requests.status"}}</th></tr></thead>
<tbody>{{range .Data.Recent}}<tr><th scope="row">{{.ID}}</th><td>{{.Kind}}</td><td>{{utc .ReceivedAt}}</td><td>{{if .CompletedAt}}{{t "privacy.completed"}}{{else}}{{.Status}}{{end}}</td></tr>{{end}}</tbody></table>
{{else}}<p>{{t "privacy.none"}}</p>{{end}}
</s-section>
{{template "foot" .}}{{end}}

{{define "registry"}}{{template "head" .}}
<s-section>
<p>{{t "registry.intro"}} <code>candor registry verify FILE --pubkey K</code>. {{t "registry.recorded"}}</p>
<ul>
<li><a href="/app/export?format=csv" download>{{t "registry.csv"}}</a></li>
<li><a href="/app/export?format=jsonl" download>{{t "registry.jsonl"}}</a></li>
<li><a href="/app/export?format=ropa" download>{{t "registry.ropa"}}</a></li>
</ul>
</s-section>
<s-section>
<h2 id="map-heading">{{if .Data.CustomerID}}{{t "registry.map.one"}}{{else}}{{t "registry.map"}}{{end}}</h2>
<form method="get" action="/app/registry"><label>{{t "registry.customer_id"}} <input name="customer_id" inputmode="numeric" value="{{.Data.CustomerID}}"></label>
<button type="submit">{{t "registry.show"}}</button>{{if .Data.CustomerID}} <a href="/app/registry">{{t "registry.whole_shop"}}</a>{{end}}</form>
<figure aria-labelledby="map-heading">{{.Data.SVG}}</figure>
<table><caption>{{t "registry.flows"}}</caption>
<thead><tr><th scope="col">{{t "registry.from"}}</th><th scope="col">{{t "registry.to"}}</th><th scope="col">{{t "registry.action"}}</th><th scope="col">{{t "registry.categories"}}</th><th scope="col">{{t "registry.entries"}}</th><th scope="col">{{t "registry.customers"}}</th><th scope="col">{{t "registry.retention"}}</th></tr></thead>
<tbody>{{range .Data.Map.Flows}}<tr><td>{{.From}}</td><td>{{.To}}</td><td>{{.Action}}</td><td>{{range $i, $c := .Categories}}{{if $i}}, {{end}}<code>{{$c}}</code>{{end}}</td><td>{{.Entries}}</td><td>{{.Subjects}}</td><td>{{.RetentionText}}</td></tr>
{{else}}<tr><td colspan="7">{{t "registry.no_flows"}}</td></tr>{{end}}</tbody></table>
</s-section>
<s-section>
<h2>{{t "registry.signatures"}}</h2>
{{if .Data.Exports}}<ul>{{range .Data.Exports}}<li><a href="/app/exports/{{.ID}}/signature">{{.ID}}.sig</a> ({{utc .CreatedAt}})</li>{{end}}</ul>
{{else}}<p>{{t "registry.no_downloads"}}</p>{{end}}
</s-section>
{{template "foot" .}}{{end}}
`
