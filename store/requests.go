package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
)

// Waiting are the statuses of a request whose workflow may still send its
// first email. The retention sweep never deletes such a row: its workflow
// still needs it, and its data key goes with it.
var Waiting = []string{StatusScheduled, StatusSending}

// Request is one order's review request.
type Request struct {
	RequestID      string     `db:"request_id"`
	Shop           string     `db:"shop"`
	OrderID        int64      `db:"order_id"`
	OrderName      string     `db:"order_name"`
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
INSERT INTO review_requests (request_id, shop, order_id, order_name, products, status, expires_at)
VALUES ($1, $2, $3, $4, $5, 'scheduled', $6)
ON CONFLICT (request_id) DO NOTHING`

// CreateRequest records a scheduled request; it is a no-op if the request
// exists, so activity retries are safe. It reports whether it inserted.
func CreateRequest(ctx context.Context, tx *sqlx.Tx, r Request, products []Product) (bool, error) {
	pj, err := json.Marshal(products)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, upsertRequestSQL, r.RequestID, r.Shop, r.OrderID, r.OrderName, string(pj), r.ExpiresAt)
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
	q := `UPDATE review_requests SET status = $3, reason = $4, updated_at = now(),
	        sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END
	      WHERE request_id = $1 AND status = ANY($2)`
	res, err := ex.ExecContext(ctx, q, requestID, pq.Array(from), to, reason)
	if err != nil {
		return false, fmt.Errorf("request %s -> %s: %w", requestID, to, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// TransitionReminder is Transition for the reminder email.
func TransitionReminder(ctx context.Context, ex sqlx.ExecerContext, requestID string, from []string, to, reason string) (bool, error) {
	q := `UPDATE review_requests SET reminder_status = $3, reminder_reason = $4, updated_at = now(),
	        reminder_sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE reminder_sent_at END,
	        sendgrid_erased_at = CASE WHEN $3 = 'sent' THEN NULL ELSE sendgrid_erased_at END -- SendGrid holds a new send
	      WHERE request_id = $1 AND reminder_status = ANY($2)`
	res, err := ex.ExecContext(ctx, q, requestID, pq.Array(from), to, reason)
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

// SetSendAt records when the first email is planned to go.
func SetSendAt(ctx context.Context, ex sqlx.ExecerContext, requestID string, at time.Time) error {
	_, err := ex.ExecContext(ctx, `UPDATE review_requests SET send_at = $2 WHERE request_id = $1 AND send_at IS DISTINCT FROM $2`, requestID, at)
	return err
}

// RecentRequests lists a shop's latest requests, newest first.
func (db *DB) RecentRequests(ctx context.Context, shop string, limit int) ([]Request, error) {
	var rs []Request
	err := db.SelectContext(ctx, &rs, `SELECT * FROM review_requests WHERE shop = $1 ORDER BY created_at DESC LIMIT $2`, shop, limit)
	return rs, err
}

// Suppressed reports whether subject must not be emailed by shop.
func Suppressed(ctx context.Context, q sqlx.QueryerContext, shop, subject string) (bool, error) {
	reason, err := Suppression(ctx, q, shop, subject)
	return reason != "", err
}

// Suppression is why subject must not be emailed by shop ("unsubscribe_link",
// "erasure", "sendgrid_bounce", ...), or "" when nothing stops it.
func Suppression(ctx context.Context, q sqlx.QueryerContext, shop, subject string) (string, error) {
	var reason string
	err := sqlx.GetContext(ctx, q, &reason, `SELECT reason FROM suppressions WHERE shop = $1 AND subject = $2`, shop, subject)
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
