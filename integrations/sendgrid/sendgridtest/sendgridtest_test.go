package sendgridtest_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
)

const mailBody = `{"personalizations":[{"to":[{"email":"customer@example.net"}]}],
	"from":{"email":"shop@example.com"},"subject":"How was it?",
	"content":[{"type":"text/plain","value":"Tell us"}]}`

func post(ctx context.Context, t *testing.T, sg *sendgridtest.Server) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sg.URL+"/v3/mail/send", strings.NewReader(mailBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+sg.Key)
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

// SendGrid's rate-limit answer names when the period resets, in unix
// seconds, and gives no Retry-After.
func TestFailNext429_NamesTheResetAndNoRetryAfter(t *testing.T) {
	sg := sendgridtest.New("SG.k")
	defer sg.Close()
	sg.VerifySender("shop@example.com")
	sg.FailNext(1, http.StatusTooManyRequests)
	resp, err := post(context.Background(), t, sg)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
	reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		t.Fatalf("X-RateLimit-Reset %q: %v", resp.Header.Get("X-RateLimit-Reset"), err)
	}
	if d := time.Until(time.Unix(reset, 0)); d <= 0 || d > 2*time.Second {
		t.Errorf("the period resets in %v, want within the next 2 s", d)
	}
	if resp.Header.Get("X-RateLimit-Remaining") != "0" || resp.Header.Get("Retry-After") != "" {
		t.Errorf("remaining %q, Retry-After %q; want 0 and none", resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("Retry-After"))
	}
	if n := len(sg.Outbox()); n != 0 {
		t.Errorf("%d mails queued by a refused send", n)
	}
}

// A held send is queued before its answer waits; a client that gives up
// meanwhile gets no answer, and the mail stays queued.
func TestHoldNext_QueuesTheMailThenHoldsItsAnswer(t *testing.T) {
	sg := sendgridtest.New("SG.k")
	defer sg.Close()
	sg.VerifySender("shop@example.com")
	reached, release := sg.HoldNext()
	answered := make(chan int, 1)
	go func() {
		resp, err := post(context.Background(), t, sg)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-reached
	if n := len(sg.Outbox()); n != 1 {
		t.Fatalf("%d mails queued when the hold is reached, want 1", n)
	}
	select {
	case code := <-answered:
		t.Fatalf("answered %d while held", code)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	if code := <-answered; code != http.StatusAccepted {
		t.Errorf("answered %d after the release, want 202", code)
	}

	reached, release = sg.HoldNext()
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		resp, err := post(ctx, t, sg)
		if err == nil {
			resp.Body.Close()
		}
		gaveUp <- err
	}()
	<-reached
	cancel()
	if err := <-gaveUp; err == nil {
		t.Error("a client that gave up while held got an answer")
	}
	if n := len(sg.Outbox()); n != 2 {
		t.Errorf("%d mails queued, want 2: the held one stays queued", n)
	}
}
