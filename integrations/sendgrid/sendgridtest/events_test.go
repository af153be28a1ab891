package sendgridtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
)

// The outbox's buttons post one event about one message, signed so that
// Candor's verification (the real one) accepts it.
func TestOutboxButtons_PostASignedEventAboutTheMessage(t *testing.T) {
	sg := sendgridtest.New("SG.k")
	defer sg.Close()
	sg.AuthenticateDomain("example.com")
	key, err := config.ParseSendGridWebhookKey(sg.WebhookPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := sendgrid.VerifyEvents(key, body, r.Header.Get(sendgrid.HeaderEventSignature), r.Header.Get(sendgrid.HeaderEventTimestamp), time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_ = json.Unmarshal(body, &got)
		_, _ = io.WriteString(w, "suppressed 1")
	}))
	defer receiver.Close()

	// One message through the stand-in's Mail Send API.
	req, _ := http.NewRequest(http.MethodPost, sg.URL+"/v3/mail/send", strings.NewReader(`{"personalizations":[{"to":[{"email":"ada@example.org"}]}],
		"from":{"email":"shop@example.com"},"subject":"Hi","content":[{"type":"text/plain","value":"x"}],"custom_args":{"candor_request_id":"rq_1"}}`))
	req.Header.Set("Authorization", "Bearer "+sg.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("send: %v %v", resp, err)
	}
	resp.Body.Close()
	id := sg.Outbox()[0].MessageID

	if _, _, err := sg.PostEvents(context.Background()); err == nil {
		t.Fatal("posted without an event webhook URL")
	}
	sg.SetEventWebhook(receiver.URL)
	h := httptest.NewServer(sg.EventsHandler())
	defer h.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, bad := range []url.Values{{"message_id": {"nope"}, "event": {"bounce"}}, {"message_id": {id}, "event": {"explode"}}} {
		resp, err := noRedirect.PostForm(h.URL, bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("%v: status %d, want 400", bad, resp.StatusCode)
		}
	}
	resp, err = noRedirect.PostForm(h.URL, url.Values{"message_id": {id}, "event": {"spam report"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || !strings.Contains(loc, url.QueryEscape("answered 200 suppressed 1")) {
		t.Fatalf("button: %d %q", resp.StatusCode, loc)
	}
	if len(got) != 1 || got[0]["event"] != "spamreport" || got[0][sendgrid.CustomArgRequestID] != "rq_1" || got[0]["email"] != "ada@example.org" || got[0]["sg_event_id"] == "" {
		t.Fatalf("posted %v", got)
	}
}
