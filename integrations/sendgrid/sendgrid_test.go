package sendgrid_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
)

const (
	apiKey    = "SG.test-key.0123456789"
	requestID = "rq_testrequest0001"
	recipient = "wilhelmina.quarrington@example.org"
	// sender is on the domain the stand-in's account authenticated.
	senderDomain = "mail.candor.test"
	sender       = "reviews@" + senderDomain
)

func message() sendgrid.Message {
	return sendgrid.Message{
		RequestID:      requestID,
		To:             recipient,
		FromName:       "Linen & Wool",
		ReplyTo:        "hello@linenandwool.example",
		Subject:        "How was your order #4711?",
		Text:           "Thank you for your order #4711.",
		HTML:           "<p>Thank you for your order #4711.</p>",
		UnsubscribeURL: "https://candor.example/u/token.sig",
	}
}

// standIn starts the SendGrid stand-in behind a proxy that counts every
// request, so a test can tell "rejected by the stand-in" from "never sent".
func standIn(t *testing.T) (*sendgridtest.Server, *sendgrid.Mailer, *atomic.Int64) {
	t.Helper()
	sg := sendgridtest.New(apiKey)
	t.Cleanup(sg.Close)
	sg.AuthenticateDomain(senderDomain)
	target, err := url.Parse(sg.URL)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return sg, sendgrid.New(apiKey, front.URL, sendgrid.From(sender)), &hits
}

// proofOf appends entries in a committed transaction and returns the proof.
func proofOf(t *testing.T, db *store.DB, entries ...registry.Entry) registry.Proof {
	t.Helper()
	ctx := context.Background()
	var proof registry.Proof
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		proof, err = registry.Append(ctx, tx, time.Now(), entries...)
		return err
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return proof
}

func entry(system, action, ref string) registry.Entry {
	return registry.Entry{Shop: "linen-and-wool.myshopify.com", Subject: "sub_test", Datum: registry.DatumEmail,
		System: system, Action: action, Purpose: registry.PurposeReviewRequest,
		LegalBasis: registry.BasisConsent, ExpiresAt: time.Now().Add(30 * 24 * time.Hour), Ref: ref}
}

func TestSend_WithoutRegistryProofSendsNothing(t *testing.T) {
	t.Parallel()
	sg, mailer, hits := standIn(t)
	id, err := mailer.Send(context.Background(), registry.Proof{}, message())
	if !errors.Is(err, sendgrid.ErrNoRecord) {
		t.Fatalf("Send with no proof: id %q, err %v; want ErrNoRecord", id, err)
	}
	if id != "" {
		t.Errorf("message ID = %q, want none", id)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the stand-in received %d requests, want none", n)
	}
	if out := sg.Outbox(); len(out) != 0 {
		t.Errorf("outbox holds %d emails, want none", len(out))
	}
}

func TestSend_ProofOfAnotherMoveDoesNotCount(t *testing.T) {
	t.Parallel()
	db, _ := storetest.New(t)
	sg, mailer, hits := standIn(t)
	for name, e := range map[string]registry.Entry{
		"another request": entry(registry.SystemSendGrid, registry.ActionTransmitted, "rq_someoneelse0002"),
		"a read":          entry(registry.SystemShopify, registry.ActionRead, requestID),
		"another system":  entry(registry.SystemPostgres, registry.ActionTransmitted, requestID),
	} {
		if _, err := mailer.Send(context.Background(), proofOf(t, db, e), message()); !errors.Is(err, sendgrid.ErrNoRecord) {
			t.Errorf("proof of %s: err %v, want ErrNoRecord", name, err)
		}
	}
	other := entry(registry.SystemSendGrid, registry.ActionTransmitted, requestID)
	other.Datum = registry.DatumName
	if _, err := mailer.Send(context.Background(), proofOf(t, db, other), message()); !errors.Is(err, sendgrid.ErrNoRecord) {
		t.Errorf("proof of another datum: err %v, want ErrNoRecord", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the stand-in received %d requests, want none", n)
	}
	if out := sg.Outbox(); len(out) != 0 {
		t.Errorf("outbox holds %d emails, want none", len(out))
	}
}

func TestSend_WithProofOfTheTransmissionSends(t *testing.T) {
	t.Parallel()
	db, _ := storetest.New(t)
	sg, mailer, hits := standIn(t)
	proof := proofOf(t, db,
		entry(registry.SystemShopify, registry.ActionRead, requestID),
		entry(registry.SystemSendGrid, registry.ActionTransmitted, requestID))
	id, err := mailer.Send(context.Background(), proof, message())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	out := sg.Outbox()
	if len(out) != 1 || hits.Load() != 1 {
		t.Fatalf("outbox holds %d emails after %d requests, want 1 and 1", len(out), hits.Load())
	}
	if id == "" || id != out[0].MessageID {
		t.Errorf("message ID = %q, want the stand-in's %q", id, out[0].MessageID)
	}
	if len(out[0].To) != 1 || out[0].To[0] != recipient {
		t.Errorf("To = %v, want [%s]", out[0].To, recipient)
	}
	if m := out[0]; m.From != sender || m.FromName != "Linen & Wool" || m.ReplyTo != "hello@linenandwool.example" {
		t.Errorf("From %q <%s>, Reply-To %s; want the Mailer's sender in the shop's name, replies to the shop", m.FromName, m.From, m.ReplyTo)
	}
}

// A shop's own address is not a Sender Identity of Candor's account: SendGrid
// answers 403 and sends nothing. That is final for this email (no retry can
// help until the sender is verified), not a key lacking mail.send.
func TestSend_UnverifiedSenderGetsSendGrids403AndIsNotRetried(t *testing.T) {
	t.Parallel()
	db, _ := storetest.New(t)
	sg, _, _ := standIn(t)
	proof := proofOf(t, db, entry(registry.SystemSendGrid, registry.ActionTransmitted, requestID))
	for _, from := range []string{"reviews@linen-and-wool.myshopify.com", "reviews@candor.test", "reviews@sub." + senderDomain} {
		mailer := sendgrid.New(apiKey, sg.URL, sendgrid.From(from))
		_, err := mailer.Send(context.Background(), proof, message())
		var ge *sendgrid.Error
		if !errors.As(err, &ge) || ge.Status != http.StatusForbidden || !ge.SenderUnverified || ge.Retryable || !ge.NotSent {
			t.Errorf("from %s: err = %#v, want a final 403 sender refusal", from, err)
		}
	}
	// Single Sender Verification covers that one address only.
	sg.VerifySender("owner@linenandwool.example")
	if _, err := sendgrid.New(apiKey, sg.URL, sendgrid.From("Owner@LinenAndWool.example")).Send(context.Background(), proof, message()); err != nil {
		t.Errorf("verified single sender: %v", err)
	}
	if _, err := sendgrid.New(apiKey, sg.URL, sendgrid.From("other@linenandwool.example")).Send(context.Background(), proof, message()); err == nil {
		t.Error("another address at a single sender's domain was accepted")
	}
	if n := sg.Sent(); n != 1 {
		t.Errorf("the stand-in accepted %d emails, want 1 (the verified sender's)", n)
	}
	// A mailer with no sender configured sends nothing at all.
	if _, err := sendgrid.New(apiKey, sg.URL).Send(context.Background(), proof, message()); err == nil || !strings.Contains(err.Error(), "CANDOR_MAIL_FROM") {
		t.Errorf("no sender: %v", err)
	}
}

// A 403 that is not about the sender (a key without mail.send) stays a slow
// retry, so requests go out once the operator fixes the key.
func TestSend_ForbiddenKeyIsStillRetried(t *testing.T) {
	t.Parallel()
	db, _ := storetest.New(t)
	sg, mailer, _ := standIn(t)
	sg.FailNext(1, http.StatusForbidden)
	_, err := mailer.Send(context.Background(), proofOf(t, db, entry(registry.SystemSendGrid, registry.ActionTransmitted, requestID)), message())
	var ge *sendgrid.Error
	if !errors.As(err, &ge) || ge.SenderUnverified || !ge.Retryable {
		t.Fatalf("err = %#v, want a retryable 403", err)
	}
}

// TestSend_EachFailureSaysWhetherTheMailMayBeOut: 429 and 503 are refusals
// before queueing (retry); a 5xx after the stand-in queued the mail, and a
// connection lost after the request was written, leave the outcome unknown
// (never retry); no connection at all is NotSent.
func TestSend_EachFailureSaysWhetherTheMailMayBeOut(t *testing.T) {
	t.Parallel()
	db, _ := storetest.New(t)
	proof := proofOf(t, db, entry(registry.SystemSendGrid, registry.ActionTransmitted, requestID))
	type want struct{ retryable, unknown, notSent bool }
	for name, c := range map[string]struct {
		prime func(*sendgridtest.Server)
		want  want
	}{
		"429":              {func(s *sendgridtest.Server) { s.FailNext(1, 429) }, want{retryable: true}},
		"503":              {func(s *sendgridtest.Server) { s.FailNext(1, 503) }, want{retryable: true}},
		"500 after queued": {func(s *sendgridtest.Server) { s.AcceptThenFail(1, 500) }, want{unknown: true}},
		"502 after queued": {func(s *sendgridtest.Server) { s.AcceptThenFail(1, 502) }, want{unknown: true}},
		"504 after queued": {func(s *sendgridtest.Server) { s.AcceptThenFail(1, 504) }, want{unknown: true}},
	} {
		t.Run(name, func(t *testing.T) {
			sg, mailer, _ := standIn(t)
			c.prime(sg)
			_, err := mailer.Send(context.Background(), proof, message())
			var ge *sendgrid.Error
			if !errors.As(err, &ge) {
				t.Fatalf("err %v, want a *sendgrid.Error", err)
			}
			if got := (want{ge.Retryable, ge.OutcomeUnknown, ge.NotSent}); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}

	// The connection drops after the request was written.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hang.Close()
	_, err := sendgrid.New(apiKey, hang.URL, sendgrid.From(sender)).Send(context.Background(), proof, message())
	var ge *sendgrid.Error
	if !errors.As(err, &ge) || !ge.OutcomeUnknown || ge.NotSent {
		t.Errorf("connection lost after the request: %+v, want OutcomeUnknown", ge)
	}
	// Nothing listens: the request never left.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, err = sendgrid.New(apiKey, closed.URL, sendgrid.From(sender)).Send(context.Background(), proof, message())
	if !errors.As(err, &ge) || ge.OutcomeUnknown || !ge.NotSent {
		t.Errorf("no connection: %+v, want NotSent", ge)
	}
}
