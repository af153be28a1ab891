package sendgrid_test

import (
	"crypto/ecdsa"
	"encoding/base64"
	"os"
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
	oldSig, oldTS := sg.Sign(body, now.Add(-sendgrid.EventMaxAge-time.Minute))
	futureSig, futureTS := sg.Sign(body, now.Add(11*time.Minute))
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
		"signed 25 hours ago":     {key, body, oldSig, oldTS, "from now"},
		"signed 11 minutes ahead": {key, body, futureSig, futureTS, "from now"},
	} {
		t.Run(name, func(t *testing.T) {
			err := sendgrid.VerifyEvents(c.key, c.body, c.sig, c.ts, now)
			if err == nil {
				t.Fatal("verified")
			}
			if !strings.Contains(err.Error(), c.wantSubstring) {
				t.Fatalf("err %v, want it to say %q", err, c.wantSubstring)
			}
		})
	}
}

// SendGrid retries a post for up to 24 hours and does not document signing
// the retry afresh: a retry that kept its first signature must still verify.
func TestVerifyEvents_ARetryThatKeptItsFirstSignatureVerifiesForTheRetryPeriod(t *testing.T) {
	sg := sendgridtest.New(apiKey)
	defer sg.Close()
	key := standInKey(t, sg)
	body := []byte(`[{"email":"` + recipient + `","event":"spamreport","sg_event_id":"ev1","timestamp":1}]`)
	first := time.Now()
	sig, ts := sg.Sign(body, first)
	for _, after := range []time.Duration{11 * time.Minute, 4 * time.Hour, 24 * time.Hour} {
		if err := sendgrid.VerifyEvents(key, body, sig, ts, first.Add(after)); err != nil {
			t.Errorf("a retry %s after the first attempt is refused: %v", after, err)
		}
	}
}

func TestParseEvents_ReadsOnlyWhatCandorNeeds(t *testing.T) {
	es, skipped, err := sendgrid.ParseEvents([]byte(`[
		{"email":"` + recipient + `","event":"bounce","type":"blocked","sg_event_id":"a","timestamp":1700000000,"candor_request_id":"rq_1",
		 "reason":"550 ` + recipient + ` unknown"},
		{"email":"` + recipient + `","event":"dropped","reason":"Invalid","sg_event_id":"b","timestamp":1700000001},
		{"event":"processed","sg_event_id":"c","timestamp":1700000002,"candor_request_id":"rq_2","category":["review_request"]}]`))
	if err != nil || skipped != 0 {
		t.Fatal(skipped, err)
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
	if es, skipped, err := sendgrid.ParseEvents([]byte(`[]`)); err != nil || len(es) != 0 || skipped != 0 {
		t.Fatalf("empty batch: %v, %d, %v", es, skipped, err)
	}

	for name, body := range map[string]string{
		"not JSON":             `[{"event":`,
		"an object, not array": `{"event":"bounce","sg_event_id":"x"}`,
		"a string":             `"bounce"`,
	} {
		if _, _, err := sendgrid.ParseEvents([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), recipient) || strings.Contains(err.Error(), "{") {
			t.Errorf("%s: error %q quotes the body", name, err)
		}
	}
}

// One bad event must not cost the post's spam reports and unsubscribes:
// it is skipped and counted, and the rest are read.
func TestParseEvents_SkipsAndCountsAMalformedEventAndKeepsTheRest(t *testing.T) {
	good := `{"email":"` + recipient + `","event":"spamreport","sg_event_id":"good1","timestamp":1700000000,"candor_request_id":"rq_1"}`
	good2 := `{"email":"` + recipient + `","event":"unsubscribe","sg_event_id":"good2","timestamp":1700000001,"candor_request_id":"rq_2"}`
	for name, bad := range map[string]string{
		"no sg_event_id":        `{"event":"bounce","timestamp":1}`,
		"no event":              `{"sg_event_id":"x","timestamp":1}`,
		"timestamp as string":   `{"event":"bounce","sg_event_id":"x","timestamp":"soon"}`,
		"request ID not string": `{"event":"bounce","sg_event_id":"x","candor_request_id":7}`,
		"event ID too long":     `{"event":"bounce","sg_event_id":"` + strings.Repeat("x", 201) + `"}`,
		"reason not a string":   `{"event":"dropped","sg_event_id":"x","reason":5}`,
		"a string":              `"bounce"`,
		"null":                  `null`,
		"an array":              `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			es, skipped, err := sendgrid.ParseEvents([]byte("[" + good + "," + bad + "," + good2 + "]"))
			if err != nil {
				t.Fatalf("the whole post was refused: %v", err)
			}
			if skipped != 1 {
				t.Errorf("skipped %d, want 1", skipped)
			}
			if len(es) != 2 || es[0].ID != "good1" || es[1].ID != "good2" {
				t.Fatalf("kept %+v, want the spam report and the unsubscribe", es)
			}
		})
	}
}

// The examples of the Event Webhook reference (testdata/events/README.md)
// parse, one event each, and suppress where the reference says the address
// is bad or the recipient objected.
func TestParseEvents_PublishedExamples(t *testing.T) {
	body, err := os.ReadFile("testdata/events/event_webhook_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	es, skipped, err := sendgrid.ParseEvents(body)
	if err != nil || skipped != 0 {
		t.Fatalf("published examples: skipped %d, %v", skipped, err)
	}
	got := map[string]string{}
	for _, e := range es {
		reason, _ := e.Suppression()
		got[e.Event+"/"+e.Type] = reason
	}
	want := map[string]string{
		"processed/": "", "dropped/": sendgrid.SuppressBounced, "delivered/": "", "deferred/": "",
		"bounce/bounce": sendgrid.SuppressBounced, "bounce/blocked": "", "open/": "", "click/": "",
		"spamreport/": sendgrid.SuppressSpamReport, "unsubscribe/": sendgrid.SuppressUnsubscribe,
		"group_unsubscribe/": sendgrid.SuppressUnsubscribe, "group_resubscribe/": "",
	}
	if len(es) != len(want) {
		t.Fatalf("parsed %d events, want %d", len(es), len(want))
	}
	for k, v := range want {
		if r, ok := got[k]; !ok || r != v {
			t.Errorf("%s: suppression %q (present %t), want %q", k, r, ok, v)
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
		{sendgrid.Event{Event: "dropped", Reason: "Invalid Address"}, sendgrid.SuppressInvalid, false},
		{sendgrid.Event{Event: "dropped", Reason: "Recipient List over Package Quota"}, "", false},
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
