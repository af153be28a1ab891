package sendgrid_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
)

// Fuzz targets. .ci/run runs each for a bounded time (the list is in
// .ci/fuzz-targets); docs/reliability.md ("Fuzzing") says what they check.

// publishedPost is SendGrid's published Event Webhook examples as one post
// (testdata/events/README.md names the sources).
func publishedPost(f *testing.F) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", "event_webhook_reference.json"))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzParseEvents: no post makes the parser panic; each event it keeps has
// the ID and name Candor keys on, within bounds; and kept plus skipped is
// every element of the array.
func FuzzParseEvents(f *testing.F) {
	post := publishedPost(f)
	f.Add(post)
	var events []json.RawMessage
	if err := json.Unmarshal(post, &events); err != nil {
		f.Fatal(err)
	}
	for _, e := range events {
		f.Add([]byte("[" + string(e) + "]"))
	}
	f.Add([]byte(`[{"sg_event_id":"e","event":"dropped","reason":"Bounced Address","candor_request_id":"rq_1"},null,1,"x",{}]`))
	f.Add([]byte(`{"event":"bounce"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, skipped, err := sendgrid.ParseEvents(body)
		var raw []json.RawMessage
		if json.Unmarshal(body, &raw) != nil {
			if err == nil {
				t.Fatal("a body that is not a JSON array parsed")
			}
			return
		}
		if err != nil {
			t.Fatalf("a JSON array was refused: %v", err)
		}
		if len(got)+skipped != len(raw) {
			t.Fatalf("%d kept + %d skipped, the post has %d", len(got), skipped, len(raw))
		}
		for _, e := range got {
			if e.ID == "" || len(e.ID) > 200 || e.Event == "" || len(e.Event) > 64 || bytes.ContainsAny([]byte(e.Event), "\x00\n") || len(e.RequestID) > 200 {
				t.Fatalf("kept an event Candor cannot key on: %+v", e)
			}
			if e.Reason != "" && e.Event != "dropped" {
				t.Fatalf("read the reason of a %q event (it can quote the address): %+v", e.Event, e)
			}
			if reason, _ := e.Suppression(); reason != "" && reason != sendgrid.SuppressBounced && reason != sendgrid.SuppressInvalid &&
				reason != sendgrid.SuppressSpamReport && reason != sendgrid.SuppressUnsubscribe {
				t.Fatalf("unknown suppression reason %q", reason)
			}
		}
	})
}

// FuzzVerifyEvents: the Event Webhook signature. A post verifies with its
// own signature and timestamp; a changed body or timestamp (even one that
// hashes the same concatenation, its digits moved into the body), another
// key, or a stale timestamp never does.
func FuzzVerifyEvents(f *testing.F) {
	sg := sendgridtest.New("SG.fuzz")
	f.Cleanup(sg.Close)
	other := sendgridtest.New("SG.fuzz")
	f.Cleanup(other.Close)
	key, err := config.ParseSendGridWebhookKey(sg.WebhookPublicKey())
	if err != nil {
		f.Fatal(err)
	}
	post := publishedPost(f)
	f.Add(post, post[:len(post)-1], int64(0), int64(0))
	f.Add([]byte(`[]`), []byte(`0[]`), int64(0), int64(-1))
	f.Add([]byte(`[{"sg_event_id":"e","event":"bounce"}]`), []byte(`[{"sg_event_id":"e","event":"bounce"}] `), int64(-3600), int64(10))
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body, changed []byte, age, tsDelta int64) {
		at := now.Add(-time.Duration(age%int64(48*time.Hour/time.Second)) * time.Second)
		sig, ts := sg.Sign(body, at)
		fresh := now.Sub(at) <= sendgrid.EventMaxAge && now.Sub(at) >= -sendgrid.EventMaxSkew
		if err := sendgrid.VerifyEvents(key, body, sig, ts, now); (err == nil) != fresh {
			t.Fatalf("signed %s before now: err = %v", now.Sub(at), err)
		}
		if !fresh {
			return
		}
		if !bytes.Equal(changed, body) && sendgrid.VerifyEvents(key, changed, sig, ts, now) == nil {
			t.Fatalf("a changed body verified: %q for %q", changed, body)
		}
		if tsDelta != 0 {
			n, _ := strconv.ParseInt(ts, 10, 64)
			if sendgrid.VerifyEvents(key, body, sig, strconv.FormatInt(n+tsDelta, 10), now) == nil {
				t.Fatal("a changed timestamp verified")
			}
		}
		// The signature covers timestamp+body with nothing between: move
		// the timestamp's last digit into the body.
		if len(ts) > 1 {
			moved := append([]byte(ts[len(ts)-1:]), body...)
			if sendgrid.VerifyEvents(key, moved, sig, ts[:len(ts)-1], now) == nil {
				t.Fatal("the timestamp's last digit moved into the body verified")
			}
		}
		otherSig, _ := other.Sign(body, at)
		if sendgrid.VerifyEvents(key, body, otherSig, ts, now) == nil {
			t.Fatal("a post signed with another key verified")
		}
	})
}
