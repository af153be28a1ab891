package sendgridtest

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
)

var outboxPage = template.Must(template.New("outbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Candor dev outbox</title>
<meta http-equiv="refresh" content="5">
<style>
form{display:inline}button{font:inherit;margin:.5rem .5rem 0 0}.note{background:#eef6ee;padding:.5rem 1rem;border-radius:6px}
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
article{border:1px solid #ccc;border-radius:6px;margin:1rem 0;padding:1rem}
dl{display:grid;grid-template-columns:8rem 1fr;margin:0}dt{color:#555}dd{margin:0}
iframe{width:100%;height:22rem;border:1px solid #ddd;margin-top:.5rem}
</style></head><body>
<h1>Dev outbox</h1>
<p>Mail that Candor handed to the local SendGrid stand-in, newest first. Nothing here leaves this machine.
The page refreshes every 5 seconds.</p>
{{with .Note}}<p class="note">{{.}}</p>{{end}}
{{if not .Mails}}<p><strong>No mail yet.</strong> Run <code>candor simulate fulfillment</code>, then wait for the shop's delay.</p>{{end}}
{{$events := .Events}}{{range .Mails}}<article id="m-{{.MessageID}}">
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
{{if $events}}{{$id := .MessageID}}<div>As SendGrid would report it, signed, to Candor's Event Webhook:
{{range $events}}<form method="post" action="/dev/outbox/events"><input type="hidden" name="message_id" value="{{$id}}"><input type="hidden" name="event" value="{{.}}"><button>{{.}}</button></form>{{end}}</div>{{end}}
</article>{{end}}
</body></html>`))

// simulated are the events the outbox page offers to post per message.
var simulated = map[string][2]string{
	"bounce":      {"bounce", "bounce"},
	"spam report": {"spamreport", ""},
	"unsubscribe": {"unsubscribe", ""},
	"delivered":   {"delivered", ""},
}

// OutboxHandler shows the accepted mail, newest first. With an event
// webhook set, each message offers buttons that post its events.
func (s *Server) OutboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mails := s.Outbox()
		for i, j := 0, len(mails)-1; i < j; i, j = i+1, j-1 {
			mails[i], mails[j] = mails[j], mails[i]
		}
		data := struct {
			Mails  []Mail
			Events []string
			Note   string
		}{Mails: mails, Note: r.URL.Query().Get("note")}
		s.mu.Lock()
		if s.eventURL != "" {
			data.Events = []string{"bounce", "spam report", "unsubscribe", "delivered"}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = outboxPage.Execute(w, data)
	})
}

// EventsHandler is the outbox page's buttons: it posts one signed event
// about one message to the event webhook, then shows the outbox again with
// Candor's answer.
func (s *Server) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.MailByID(r.PostFormValue("message_id"))
		ev, known := simulated[r.PostFormValue("event")]
		if !ok || !known {
			http.Error(w, "no such message or event", http.StatusBadRequest)
			return
		}
		note := "posted " + ev[0] + ": "
		status, msg, err := s.PostEvents(r.Context(), Event(m, ev[0], ev[1]))
		if err != nil {
			note += err.Error()
		} else {
			note += "Candor answered " + strconv.Itoa(status) + " " + msg
		}
		http.Redirect(w, r, "/dev/outbox?note="+url.QueryEscape(note)+"#m-"+m.MessageID, http.StatusSeeOther)
	})
}
