package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Product is one fulfilled product of an order. Titles and handles are the
// merchant's catalogue, not customer data.
type Product struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	Handle string `json:"handle,omitempty"`
}

// Request statuses.
const (
	StatusScheduled = "scheduled"
	StatusSending   = "sending"
	StatusSent      = "sent"
	// StatusSentUnconfirmed: the address went to SendGrid, which may have
	// accepted the mail, but no 202 was seen (the worker died mid-call, or a
	// gateway answered 5xx). Final: it is never retried into a second email,
	// and it counts as a send for erasure and retention.
	StatusSentUnconfirmed = "sent_unconfirmed"
	StatusSkipped         = "skipped"
	StatusFailed          = "failed"
)

// Waiting are the statuses of a request whose workflow may still send its
// first email. The retention sweep never deletes such a row: its workflow
// still needs it, and its data key goes with it.
var Waiting = []string{StatusScheduled, StatusSending}

// Request is one order's review request.
type Request struct {
	RequestID string `db:"request_id"`
	Shop      string `db:"shop"`
	OrderID   int64  `db:"order_id"`
	OrderName string `db:"order_name"`
	// Shipment is 0 for the order's own request, else the Shopify
	// fulfillment a per-shipment email is about (-1: the products known
	// only from the whole order's fulfilment).
	Shipment       int64      `db:"shipment"`
	ProductsJSON   []byte     `db:"products"`
	Subject        string     `db:"subject"`
	Status         string     `db:"status"`
	Reason         string     `db:"reason"`
	ReminderStatus string     `db:"reminder_status"`
	ReminderReason string     `db:"reminder_reason"`
	SentAt         *time.Time `db:"sent_at"`
	ReminderSentAt *time.Time `db:"reminder_sent_at"`
	CreatedAt      time.Time  `db:"created_at"`
	UpdatedAt      time.Time  `db:"updated_at"`
	ExpiresAt      time.Time  `db:"expires_at"`
	SendAt         *time.Time `db:"send_at"` // when the first email is planned
	// SendGridErasedAt is when SendGrid was last asked to erase the
	// recipient (retention's sendgrid_activity policy).
	SendGridErasedAt *time.Time `db:"sendgrid_erased_at"`
	// MessageID and ReminderMessageID are SendGrid's X-Message-Id of each
	// accepted email ("" until one is seen).
	MessageID         string `db:"message_id"`
	ReminderMessageID string `db:"reminder_message_id"`
	// AddressKey is keys.Ring.AddressKey of the address the request was sent
	// to, set at send time: the key its objections are suppressed under.
	AddressKey string `db:"address_key"`
}

// Emailed reports whether the first email may have reached SendGrid's
// queue: sent, or sent without confirmation.
func Emailed(status string) bool {
	return status == StatusSent || status == StatusSentUnconfirmed
}

// Products decodes the stored product list.
func (r Request) Products() ([]Product, error) {
	var ps []Product
	if err := json.Unmarshal(r.ProductsJSON, &ps); err != nil {
		return nil, fmt.Errorf("request %s: products: %w", r.RequestID, err)
	}
	return ps, nil
}

const upsertRequestSQL = `
INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status, expires_at, shipment)
VALUES ($1, $2, $3, $4, $5, 'scheduled', $6, $7)
ON CONFLICT (request_id) DO NOTHING`

// CreateRequest records a scheduled request; it is a no-op if the request
// exists, so activity retries are safe. It reports whether it inserted.
func CreateRequest(ctx context.Context, tx *sqlx.Tx, r Request, products []Product) (bool, error) {
	pj, err := json.Marshal(products)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, upsertRequestSQL, r.RequestID, r.Shop, r.OrderID, r.OrderName, string(pj), r.ExpiresAt, r.Shipment)
	if err != nil {
		return false, fmt.Errorf("insert review request: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Request loads one request.
func (db *DB) Request(ctx context.Context, requestID string) (Request, error) {
	var r Request
	err := db.GetContext(ctx, &r, `SELECT * FROM review_requests WHERE request_id = $1`, requestID)
	return r, notFound(err)
}

// LockRequest loads one request FOR UPDATE inside tx, so two attempts of the
// send activity cannot both move it to sending.
func LockRequest(ctx context.Context, tx *sqlx.Tx, requestID string) (Request, error) {
	var r Request
	err := tx.GetContext(ctx, &r, `SELECT * FROM review_requests WHERE request_id = $1 FOR UPDATE`, requestID)
	return r, notFound(err)
}

// Transition moves the first email's status from one of from to to, and
// reports whether it did; reason says why a request was skipped or failed.
// Guarding on the current status keeps a late stop from overwriting "sent".
func Transition(ctx context.Context, ex sqlx.ExecerContext, requestID string, from []string, to, reason string) (bool, error) {
	// An unconfirmed send happened when the request moved to sending: the
	// row's updated_at, before this update.
	// The move is counted in shop_weekly_results by the same statement.
	q := `WITH moved AS (UPDATE review_requests SET status = $3, reason = $4, updated_at = now(),
	        sent_at = CASE WHEN $3 = 'sent' THEN now() WHEN $3 = 'sent_unconfirmed' THEN updated_at ELSE sent_at END
	      WHERE request_id = $1 AND status = ANY($2) RETURNING shop)` + countMovedSQL
	metric := transitionMetric(to, false)
	res, err := ex.ExecContext(ctx, q, requestID, pq.Array(from), to, reason, metric, resultReason(metric, reason))
	if err != nil {
		return false, fmt.Errorf("request %s -> %s: %w", requestID, to, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// TransitionReminder is Transition for the reminder email.
func TransitionReminder(ctx context.Context, ex sqlx.ExecerContext, requestID string, from []string, to, reason string) (bool, error) {
	q := `WITH moved AS (UPDATE review_requests SET reminder_status = $3, reminder_reason = $4, updated_at = now(),
	        reminder_sent_at = CASE WHEN $3 = 'sent' THEN now() WHEN $3 = 'sent_unconfirmed' THEN updated_at ELSE reminder_sent_at END,
	        sendgrid_erased_at = CASE WHEN $3 IN ('sent', 'sent_unconfirmed') THEN NULL ELSE sendgrid_erased_at END -- SendGrid may hold a new send
	      WHERE request_id = $1 AND reminder_status = ANY($2) RETURNING shop)` + countMovedSQL
	metric := transitionMetric(to, true)
	res, err := ex.ExecContext(ctx, q, requestID, pq.Array(from), to, reason, metric, resultReason(metric, reason))
	if err != nil {
		return false, fmt.Errorf("request %s reminder -> %s: %w", requestID, to, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetSubjectAndProducts records the customer's pseudonym and the products'
// handles once the send activity has read them from Shopify.
func SetSubjectAndProducts(ctx context.Context, tx sqlx.ExecerContext, requestID, subject string, products []Product) error {
	pj, err := json.Marshal(products)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE review_requests SET subject = $2, products = $3, updated_at = now() WHERE request_id = $1`,
		requestID, subject, string(pj))
	return err
}

// SetWaitingProducts replaces the products of a request still scheduled;
// once it is sending or settled its products stay as they were sent.
func SetWaitingProducts(ctx context.Context, ex sqlx.ExecerContext, requestID string, products []Product) error {
	pj, err := json.Marshal(products)
	if err != nil {
		return err
	}
	_, err = ex.ExecContext(ctx, `UPDATE review_requests SET products = $2, updated_at = now() WHERE request_id = $1 AND status = 'scheduled'`,
		requestID, string(pj))
	if err != nil {
		return fmt.Errorf("request %s: set products: %w", requestID, err)
	}
	return nil
}

// SetMessageID records SendGrid's X-Message-Id of the first email, or of
// the reminder.
func SetMessageID(ctx context.Context, ex sqlx.ExecerContext, requestID string, reminder bool, id string) error {
	col := "message_id"
	if reminder {
		col = "reminder_message_id"
	}
	_, err := ex.ExecContext(ctx, `UPDATE review_requests SET `+col+` = $2 WHERE request_id = $1`, requestID, id)
	return err
}

// SetAddressKey records the keyed hash of the address a request is sent to.
func SetAddressKey(ctx context.Context, ex sqlx.ExecerContext, requestID, addressKey string) error {
	_, err := ex.ExecContext(ctx, `UPDATE review_requests SET address_key = $2 WHERE request_id = $1`, requestID, addressKey)
	return err
}

// SetSendAt records when the first email is planned to go.
func SetSendAt(ctx context.Context, ex sqlx.ExecerContext, requestID string, at time.Time) error {
	_, err := ex.ExecContext(ctx, `UPDATE review_requests SET send_at = $2 WHERE request_id = $1 AND send_at IS DISTINCT FROM $2`, requestID, at)
	return err
}

// EmailsSince counts the review emails, first emails and reminders, that
// shop sent since then to any of keys (subject pseudonyms, address keys),
// leaving out request except's. Empty keys are ignored.
func EmailsSince(ctx context.Context, q sqlx.QueryerContext, shop, except string, since time.Time, keys ...string) (int, error) {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	if len(keys) == 0 {
		return 0, nil
	}
	var n int
	err := sqlx.GetContext(ctx, q, &n, `SELECT coalesce(sum(
	        (status IN ('sent', 'sent_unconfirmed') AND sent_at >= $3)::int +
	        (reminder_status IN ('sent', 'sent_unconfirmed') AND reminder_sent_at >= $3)::int), 0)
	    FROM review_requests WHERE shop = $1 AND request_id <> $2 AND (subject = ANY($4) OR address_key = ANY($4))`,
		shop, except, since, pq.Array(keys))
	if err != nil {
		return 0, fmt.Errorf("count the customer's emails: %w", err)
	}
	return n, nil
}

// ProductsAskedSince lists the products shop's emails since then asked
// subject about, leaving out request except's.
func ProductsAskedSince(ctx context.Context, q sqlx.QueryerContext, shop, except, subject string, since time.Time) (map[int64]bool, error) {
	asked := map[int64]bool{}
	if subject == "" {
		return asked, nil
	}
	var lists [][]byte
	err := sqlx.SelectContext(ctx, q, &lists, `SELECT products FROM review_requests
	    WHERE shop = $1 AND request_id <> $2 AND subject = $3 AND status IN ('sent', 'sent_unconfirmed') AND sent_at >= $4`,
		shop, except, subject, since)
	if err != nil {
		return nil, fmt.Errorf("read the customer's earlier products: %w", err)
	}
	for _, l := range lists {
		var ps []Product
		if err := json.Unmarshal(l, &ps); err != nil {
			return nil, fmt.Errorf("earlier products: %w", err)
		}
		for _, p := range ps {
			asked[p.ID] = true
		}
	}
	return asked, nil
}

// RecentRequests lists a shop's latest requests, newest first.
func (db *DB) RecentRequests(ctx context.Context, shop string, limit int) ([]Request, error) {
	var rs []Request
	err := db.SelectContext(ctx, &rs, `SELECT * FROM review_requests WHERE shop = $1 ORDER BY created_at DESC LIMIT $2`, shop, limit)
	return rs, err
}

// Suppressed reports whether any of keys (a subject, an address key) must
// not be emailed by shop.
func Suppressed(ctx context.Context, q sqlx.QueryerContext, shop string, keys ...string) (bool, error) {
	reason, err := Suppression(ctx, q, shop, keys...)
	return reason != "", err
}

// Suppression is why shop must not email any of keys ("unsubscribe_link",
// "erasure", "bounce", ...), or "" when nothing stops it. A key is a
// subject pseudonym or an address key; empty keys are ignored. With several
// suppressions the oldest reason wins.
func Suppression(ctx context.Context, q sqlx.QueryerContext, shop string, keys ...string) (string, error) {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	if len(keys) == 0 {
		return "", nil
	}
	var reason string
	err := sqlx.GetContext(ctx, q, &reason, `SELECT reason FROM suppressions WHERE shop = $1 AND subject = ANY($2)
		ORDER BY created_at, subject LIMIT 1`, shop, pq.Array(keys))
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return reason, err
}

// Suppress adds subject to shop's suppression list; repeating it is a no-op.
// It reports whether the subject was newly added.
func Suppress(ctx context.Context, tx sqlx.ExecerContext, shop, subject, reason string) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO suppressions (shop, subject, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		shop, subject, reason)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SuppressAll adds every non-empty key (a subject, an address key) to shop's
// suppression list for reason. It reports whether any was newly added.
func SuppressAll(ctx context.Context, tx sqlx.ExecerContext, shop, reason string, keys ...string) (bool, error) {
	added := false
	for _, k := range keys {
		if k == "" {
			continue
		}
		n, err := Suppress(ctx, tx, shop, k, reason)
		if err != nil {
			return false, err
		}
		added = added || n
	}
	return added, nil
}
