package sendgrid_test

import (
	"crypto/ecdsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
)

func standInKey(t *testing.T, sg *sendgridtest.Server) *ecdsa.PublicKey {
	t.Helper()
	k, err := config.ParseSendGridWebhookKey(sg.WebhookPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyEvents_AcceptsOnlyAFreshSignatureOverTheExactBody(t *testing.T) {
	sg := sendgridtest.New(apiKey)
	defer sg.Close()
	other := sendgridtest.New(apiKey)
	defer other.Close()
	key := standInKey(t, sg)
	body := []byte(`[{"email":"` + recipient + `","event":"bounce","sg_event_id":"ev1","timestamp":1}]`)
	now := time.Now()
	sig, ts := sg.Sign(body, now)
	if err := sendgrid.VerifyEvents(key, body, sig, ts, now); err != nil {
		t.Fatalf("a good signature does not verify: %v", err)
	}
	otherSig, _ := other.Sign(body, now)
	oldSig, oldTS := sg.Sign(body, now.Add(-11*time.Minute))
	futureSig, futureTS := sg.Sign(body, now.Add(11*time.Minute))
	edgeSig, edgeTS := sg.Sign(body, now.Add(-9*time.Minute))
	if err := sendgrid.VerifyEvents(key, body, edgeSig, edgeTS, now); err != nil {
		t.Fatalf("a signature 9 minutes old is inside the window: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), "bounce", "delivered", 1))
	for name, c := range map[string]struct {
		key           *ecdsa.PublicKey
		body          []byte
		sig, ts       string
		wantSubstring string
	}{
		"no key":                  {nil, body, sig, ts, ""},
		"no signature":            {key, body, "", ts, ""},
		"no timestamp":            {key, body, sig, "", ""},
		"signed by another key":   {key, body, otherSig, ts, ""},
		"body changed":            {key, tampered, sig, ts, ""},
		"timestamp changed":       {key, body, sig, oldTS, ""},
		"signature not base64":    {key, body, "%%%", ts, ""},
		"signature not ASN.1":     {key, body, base64.StdEncoding.EncodeToString([]byte("junk")), ts, ""},
		"timestamp not a number":  {key, body, sig, ts + "x", ""},
		"signed 11 minutes ago":   {key, body, oldSig, oldTS, "from now"},
		"signed 11 minutes ahead": {key, body, futureSig, futureTS, "from now"},
		"replayed a day later":    {key, body, sig, ts, "from now"},
	} {
		t.Run(name, func(t *testing.T) {
			at := now
			if name == "replayed a day later" {
				at = now.Add(24 * time.Hour)
			}
			err := sendgrid.VerifyEvents(c.key, c.body, c.sig, c.ts, at)
			if err == nil {
				t.Fatal("verified")
			}
			if !strings.Contains(err.Error(), c.wantSubstring) {
				t.Fatalf("err %v, want it to say %q", err, c.wantSubstring)
			}
		})
	}
}

func TestParseEvents_ReadsOnlyWhatCandorNeeds(t *testing.T) {
	es, err := sendgrid.ParseEvents([]byte(`[
		{"email":"` + recipient + `","event":"bounce","type":"blocked","sg_event_id":"a","timestamp":1700000000,"candor_request_id":"rq_1",
		 "reason":"550 ` + recipient + ` unknown"},
		{"email":"` + recipient + `","event":"dropped","reason":"Invalid","sg_event_id":"b","timestamp":1700000001},
		{"event":"processed","sg_event_id":"c","timestamp":1700000002,"candor_request_id":"rq_2","category":["review_request"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []sendgrid.Event{
		{ID: "a", Event: "bounce", Timestamp: 1700000000, Type: "blocked", RequestID: "rq_1"},
		{ID: "b", Event: "dropped", Timestamp: 1700000001, Reason: "Invalid"},
		{ID: "c", Event: "processed", Timestamp: 1700000002, RequestID: "rq_2"},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d events", len(es))
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v (a bounce's reason is not read)", i, es[i], want[i])
		}
	}
	if es, err := sendgrid.ParseEvents([]byte(`[]`)); err != nil || len(es) != 0 {
		t.Fatalf("empty batch: %v, %v", es, err)
	}

	for name, body := range map[string]string{
		"not JSON":              `[{"event":`,
		"an object, not array":  `{"event":"bounce","sg_event_id":"x"}`,
		"an array of strings":   `["bounce"]`,
		"null element":          `[null]`,
		"no sg_event_id":        `[{"event":"bounce","timestamp":1}]`,
		"no event":              `[{"sg_event_id":"x","timestamp":1}]`,
		"timestamp as string":   `[{"event":"bounce","sg_event_id":"x","timestamp":"soon"}]`,
		"request ID not string": `[{"event":"bounce","sg_event_id":"x","candor_request_id":7}]`,
		"event ID too long":     `[{"event":"bounce","sg_event_id":"` + strings.Repeat("x", 201) + `"}]`,
	} {
		if _, err := sendgrid.ParseEvents([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), recipient) || strings.Contains(err.Error(), "{") {
			t.Errorf("%s: error %q quotes the body", name, err)
		}
	}
}

func TestEventSuppression_OnlyForTheRecipientNotTheMessage(t *testing.T) {
	for _, c := range []struct {
		e         sendgrid.Event
		reason    string
		objection bool
	}{
		{sendgrid.Event{Event: "bounce", Type: "bounce"}, sendgrid.SuppressBounced, false},
		{sendgrid.Event{Event: "bounce"}, sendgrid.SuppressBounced, false},
		{sendgrid.Event{Event: "bounce", Type: "blocked"}, "", false},
		{sendgrid.Event{Event: "dropped", Reason: "Bounced Address"}, sendgrid.SuppressBounced, false},
		{sendgrid.Event{Event: "dropped", Reason: "Invalid"}, sendgrid.SuppressInvalid, false},
		{sendgrid.Event{Event: "dropped", Reason: "Spam Reporting Address"}, sendgrid.SuppressSpamReport, true},
		{sendgrid.Event{Event: "dropped", Reason: "Unsubscribed Address"}, sendgrid.SuppressUnsubscribe, true},
		{sendgrid.Event{Event: "dropped", Reason: "Spam Content"}, "", false},
		{sendgrid.Event{Event: "dropped", Reason: "Invalid SMTPAPI header"}, "", false},
		{sendgrid.Event{Event: "spamreport"}, sendgrid.SuppressSpamReport, true},
		{sendgrid.Event{Event: "unsubscribe"}, sendgrid.SuppressUnsubscribe, true},
		{sendgrid.Event{Event: "group_unsubscribe"}, sendgrid.SuppressUnsubscribe, true},
		{sendgrid.Event{Event: "group_resubscribe"}, "", false},
		{sendgrid.Event{Event: "delivered"}, "", false},
		{sendgrid.Event{Event: "deferred"}, "", false},
		{sendgrid.Event{Event: "open"}, "", false},
	} {
		reason, objection := c.e.Suppression()
		if reason != c.reason || objection != c.objection {
			t.Errorf("%+v: got %q %t, want %q %t", c.e, reason, objection, c.reason, c.objection)
		}
	}
}
