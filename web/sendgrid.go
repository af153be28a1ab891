package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// sendgridEvents is POST /webhooks/sendgrid, SendGrid's signed Event
// Webhook. Bounces, spam reports and unsubscribes put the customer on the
// shop's suppression list. Events are matched to a review request by the
// opaque request ID Candor set as a custom_arg; the address in the event is
// never decoded, stored or logged.
//
// 401 bad or missing signature, or a timestamp outside the window SendGrid's
// retries need (sendgrid.EventMaxAge); 413 over the limit; 400 not an array
// of events; 503 not configured, or not durable (SendGrid retries for 24
// hours); 200 otherwise, with malformed events skipped and counted.
func (s *Server) sendgridEvents(w http.ResponseWriter, r *http.Request) {
	if s.SendGridWebhookKey == nil {
		s.Logger.LogAttrs(r.Context(), slog.LevelError, "SendGrid event webhook refused: SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
		s.eventReply(w, http.StatusServiceUnavailable, "not_configured", "event webhook verification is not configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, sendgrid.MaxEventBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.eventReply(w, http.StatusRequestEntityTooLarge, "too_large", "body is over the 1 MiB limit")
			return
		}
		s.eventReply(w, http.StatusBadRequest, "unreadable", "could not read body")
		return
	}
	if err := sendgrid.VerifyEvents(s.SendGridWebhookKey, body, r.Header.Get(sendgrid.HeaderEventSignature),
		r.Header.Get(sendgrid.HeaderEventTimestamp), s.now()); err != nil {
		s.eventReply(w, http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	events, skipped, err := sendgrid.ParseEvents(body)
	body = nil // never kept
	if err != nil {
		s.eventReply(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if skipped > 0 {
		// Refusing the post would lose its good events to SendGrid's
		// retries; a malformed event cannot get better by being retried.
		s.Logger.LogAttrs(r.Context(), slog.LevelWarn, "SendGrid events skipped: no sg_event_id or event, or a field of the wrong type",
			slog.Int("skipped", skipped), slog.Int("events", len(events)+skipped))
	}
	res, err := s.applyEvents(r.Context(), events)
	if err != nil {
		s.Logger.LogAttrs(r.Context(), slog.LevelError, "SendGrid events not recorded; SendGrid will retry",
			slog.Int("events", len(events)), slog.String("error", err.Error()))
		s.eventReply(w, http.StatusServiceUnavailable, "unavailable", "temporarily unavailable, retry later")
		return
	}
	for outcome, n := range map[string]int{"suppressed": res.suppressed, "duplicate": res.duplicate, "ignored": res.ignored, "malformed": skipped} {
		s.Metrics.SendGridEvent(outcome, n)
	}
	msg := fmt.Sprintf("suppressed %d, duplicate %d, ignored %d", res.suppressed, res.duplicate, res.ignored)
	if skipped > 0 {
		msg += fmt.Sprintf(", malformed %d", skipped)
	}
	s.eventReply(w, http.StatusOK, "accepted", msg)
}

func (s *Server) eventReply(w http.ResponseWriter, status int, outcome, msg string) {
	s.Metrics.SendGridPost(outcome)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

type eventResult struct{ suppressed, duplicate, ignored int }

// eventPrefix keeps SendGrid's event IDs apart from Shopify's webhook IDs in
// webhook_deliveries, which the retention sweep empties after 7 days.
const eventPrefix = "sendgrid:"

const recordEventSQL = `INSERT INTO webhook_deliveries (webhook_id, shop, topic) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`

// eventRequest is a request a SendGrid event names.
type eventRequest struct {
	RequestID string `db:"request_id"`
	Shop      string `db:"shop"`
	Subject   string `db:"subject"`
	Address   string `db:"address_key"`
}

// eventAct is a suppressing event and its request (an index into the rows).
type eventAct struct {
	e   sendgrid.Event
	req int
}

// suppressingEvents looks up, in tx, the requests the events name, and
// returns the suppressing events for known requests, sorted, with how many
// others it ignored.
func suppressingEvents(ctx context.Context, tx *sqlx.Tx, ids []string, events []sendgrid.Event) ([]eventRequest, []eventAct, int, error) {
	var rows []eventRequest
	if err := tx.SelectContext(ctx, &rows, `SELECT request_id, shop, subject, address_key FROM review_requests
		WHERE request_id = ANY($1) AND subject <> ''`, pq.Array(ids)); err != nil {
		return nil, nil, 0, fmt.Errorf("look up requests: %w", err)
	}
	known := make(map[string]int, len(rows))
	for i, row := range rows {
		known[row.RequestID] = i
	}
	var acts []eventAct
	ignored := 0
	for _, e := range events {
		i, ok := known[e.RequestID]
		if reason, _ := e.Suppression(); reason == "" || !ok {
			ignored++ // not ours, erased, or nothing to do
			continue
		}
		acts = append(acts, eventAct{e, i})
	}
	// One order for the row locks applyEvents then takes, whatever order
	// SendGrid batched the events in, so overlapping posts cannot deadlock.
	sort.Slice(acts, func(a, b int) bool {
		ra, rb := rows[acts[a].req], rows[acts[b].req]
		if ra.Shop != rb.Shop {
			return ra.Shop < rb.Shop
		}
		if ra.Subject != rb.Subject {
			return ra.Subject < rb.Subject
		}
		return acts[a].e.ID < acts[b].e.ID
	})
	return rows, acts, ignored, nil
}

// suppression is one key to suppress and the stored entries (indexes into
// applyEvents's stored) that record it.
type suppression struct {
	key, reason string
	acts        []int
}

// suppressKeys suppresses each key in one sorted order, and says which of n
// stored entries to write: the first of each key that was newly added.
func suppressKeys(ctx context.Context, tx *sqlx.Tx, byKey map[string]*suppression, n int) ([]bool, error) {
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	write := make([]bool, n)
	for _, k := range keys {
		sp := byKey[k]
		shop, key, _ := strings.Cut(sp.key, "\x00")
		added, err := store.Suppress(ctx, tx, shop, key, sp.reason)
		if err != nil {
			return nil, fmt.Errorf("suppress: %w", err)
		}
		if added {
			write[sp.acts[0]] = true
		}
	}
	return write, nil
}

// resultMetric is the weekly-results metric (store.CountResult) of a
// suppressing event's reason: the shop's figures count each event SendGrid
// reports once (deduplicated by its sg_event_id), when it is received.
func resultMetric(suppression string) string {
	switch suppression {
	case sendgrid.SuppressSpamReport:
		return store.MetricSpamReport
	case sendgrid.SuppressUnsubscribe:
		return store.MetricUnsubscribe
	}
	return store.MetricBounce // SuppressBounced, SuppressInvalid
}

// applyEvents records, in one transaction, each suppressing event for a
// known request: its dedupe row, the suppression, and the registry entries.
// Everything else is counted and dropped.
func (s *Server) applyEvents(ctx context.Context, events []sendgrid.Event) (eventResult, error) {
	var res eventResult
	var ids []string
	for _, e := range events {
		if reason, _ := e.Suppression(); reason != "" && e.RequestID != "" {
			ids = append(ids, e.RequestID)
		}
	}
	if len(ids) == 0 {
		res.ignored = len(events)
		return res, nil
	}
	now := s.now()
	err := s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		res = eventResult{}
		rows, acts, ignored, err := suppressingEvents(ctx, tx, ids, events)
		if err != nil {
			return err
		}
		res.ignored = ignored
		var entries []registry.Entry
		// Suppressions go in after every event row, by key in one sorted
		// order: a pseudonym and the address's key (which reaches guest
		// orders) of one request need not sort alike in two posts.
		byKey := map[string]*suppression{}
		var stored []registry.Entry // written if one of its keys was added
		for _, a := range acts {
			e, req := a.e, rows[a.req]
			reason, objection := e.Suppression()
			r, err := tx.ExecContext(ctx, recordEventSQL, eventPrefix+e.ID, req.Shop, "sendgrid/"+e.Event)
			if err != nil {
				return fmt.Errorf("record event: %w", err)
			}
			if n, _ := r.RowsAffected(); n == 0 {
				res.duplicate++
				continue
			}
			res.suppressed++
			if err := store.CountResult(ctx, tx, req.Shop, now, resultMetric(reason), ""); err != nil {
				return err
			}
			datum, basis := registry.DatumEmailDeliverability, registry.BasisLegitimateInterest
			if objection {
				datum, basis = registry.DatumMarketingPrefs, registry.BasisLegalObligation
			}
			entries = append(entries, registry.Entry{Shop: req.Shop, Subject: req.Subject, Datum: datum,
				System: registry.SystemSendGrid, Action: registry.ActionRead, Purpose: registry.PurposeSuppression,
				LegalBasis: basis, ExpiresAt: now, Ref: req.RequestID})
			stored = append(stored, registry.Entry{Shop: req.Shop, Subject: req.Subject,
				Datum: registry.DatumMarketingPrefs, System: registry.SystemPostgres, Action: registry.ActionStored,
				Purpose: registry.PurposeSuppression, LegalBasis: basis,
				ExpiresAt: now.Add(SuppressionRetention), Ref: req.RequestID})
			for _, k := range []string{req.Subject, req.Address} {
				if k == "" {
					continue
				}
				k = req.Shop + "\x00" + k
				if byKey[k] == nil {
					byKey[k] = &suppression{key: k, reason: reason}
				}
				byKey[k].acts = append(byKey[k].acts, len(stored)-1)
			}
		}
		write, err := suppressKeys(ctx, tx, byKey, len(stored))
		if err != nil {
			return err
		}
		for i, e := range stored {
			if write[i] {
				entries = append(entries, e)
			}
		}
		if len(entries) == 0 {
			return nil
		}
		_, err = registry.Append(ctx, tx, now, entries...)
		return err
	})
	if err != nil {
		return eventResult{}, err
	}
	return res, nil
}
