package sendgridtest

import (
	"html/template"
	"net/http"
)

var outboxPage = template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Candor dev outbox</title>
<meta http-equiv="refresh" content="5">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
article{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:1rem}
dl{display:grid;grid-template-columns:8rem 1fr;margin:0}dt{color:#555}dd{margin:0}
iframe{width:100%;height:22rem;border:1px solid #ddd;margin-top:.5rem}
</style></head><body>
<h1>Dev outbox</h1>
<p>Mail that Candor handed to the local SendGrid stand-in, newest first. Nothing here leaves this machine.
The page refreshes every 5 seconds.</p>
{{if not .}}<p><strong>No mail yet.</strong> Run <code>candor simulate fulfillment</code>, then wait for the shop's delay.</p>{{end}}
{{range .}}<article>
<dl>
<dt>To</dt><dd>{{range .To}}{{.}} {{end}}</dd>
<dt>From</dt><dd>{{.From}}</dd>
<dt>Subject</dt><dd>{{.Subject}}</dd>
<dt>Received</dt><dd>{{.ReceivedAt.Format "2006-01-02 15:04:05"}}</dd>
<dt>Categories</dt><dd>{{range .Categories}}{{.}} {{end}}</dd>
<dt>custom_args</dt><dd>{{range $k, $v := .CustomArgs}}{{$k}}={{$v}} {{end}}</dd>
<dt>Headers</dt><dd>{{range $k, $v := .Headers}}{{$k}}: {{$v}}<br>{{end}}</dd>
</dl>
<iframe sandbox="allow-top-navigation-by-user-activation allow-popups" srcdoc="{{.HTML}}" title="Email body: {{.Subject}}"></iframe>
<details><summary>Plain-text part</summary><pre>{{.Text}}</pre></details>
</article>{{end}}
</body></html>`))

// OutboxHandler shows the accepted mail, newest first.
func (s *Server) OutboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mails := s.Outbox()
		for i, j := 0, len(mails)-1; i < j; i, j = i+1, j-1 {
			mails[i], mails[j] = mails[j], mails[i]
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = outboxPage.Execute(w, mails)
	})
}
