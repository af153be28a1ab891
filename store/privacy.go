package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Privacy request kinds, one per compliance topic.
const (
	KindCustomerRedact = "customer_redact"
	KindShopRedact     = "shop_redact"
	KindDataRequest    = "data_request"
	KindUninstall      = "uninstall"
)

// PrivacyRequest is one compliance webhook's work.
type PrivacyRequest struct {
	ID          string        `db:"id"`
	Kind        string        `db:"kind"`
	Shop        string        `db:"shop"`
	Subject     string        `db:"subject"`
	OrderIDs    pq.Int64Array `db:"order_ids"`
	EmailSealed string        `db:"email_sealed"`
	// AddressKey is keys.Ring.AddressKey of the address the request named,
	// if any: how the erasure finds guest sends and suppressions.
	AddressKey  string     `db:"address_key"`
	Status      string     `db:"status"`
	ReceivedAt  time.Time  `db:"received_at"`
	CompletedAt *time.Time `db:"completed_at"`
}

// KeyOwner owns the data key the request's sealed address is under: the
// subject, so that erasing the subject destroys it; or, for an email-only
// customer record (no customer ID, so no subject), the request itself.
func (r PrivacyRequest) KeyOwner() string {
	if r.Subject != "" {
		return r.Subject
	}
	return r.ID
}

// Receipt is the evidence for one system.
type Receipt struct {
	RequestID  string    `db:"request_id" json:"request_id"`
	System     string    `db:"system" json:"system"`
	Asked      string    `db:"asked" json:"asked"`
	Verified   string    `db:"verified" json:"verified"`
	AskedAt    time.Time `db:"asked_at" json:"asked_at"`
	VerifiedAt time.Time `db:"verified_at" json:"verified_at"`
}

// CreatePrivacyRequest stores a request; a repeated delivery is a no-op.
// It reports whether the row is new.
func CreatePrivacyRequest(ctx context.Context, tx *sqlx.Tx, r PrivacyRequest) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO privacy_requests (id, kind, shop, subject, order_ids, email_sealed, address_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Kind, r.Shop, r.Subject, pq.Array(append([]int64{}, r.OrderIDs...)), r.EmailSealed, r.AddressKey)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// StalledPrivacyRequests lists up to limit requests still received before
// `before`, oldest first: accepted, but not (yet) done. Their workflows may
// be running, or may never have started (Temporal was down).
func (db *DB) StalledPrivacyRequests(ctx context.Context, before time.Time, limit int) ([]PrivacyRequest, error) {
	var rs []PrivacyRequest
	err := db.SelectContext(ctx, &rs, `SELECT * FROM privacy_requests WHERE status = 'received' AND received_at < $1
		ORDER BY received_at LIMIT $2`, before, limit)
	return rs, err
}

// PrivacyRequest loads one request.
func (db *DB) PrivacyRequest(ctx context.Context, id string) (PrivacyRequest, error) {
	var r PrivacyRequest
	err := db.GetContext(ctx, &r, `SELECT * FROM privacy_requests WHERE id = $1`, id)
	return r, notFound(err)
}

// SaveReceipt records (or replaces, on an activity retry) one system's
// evidence.
func SaveReceipt(ctx context.Context, ex sqlx.ExecerContext, r Receipt) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO privacy_receipts (request_id, system, asked, verified, asked_at, verified_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (request_id, system) DO UPDATE SET asked = $3, verified = $4, asked_at = $5, verified_at = $6`,
		r.RequestID, r.System, r.Asked, r.Verified, r.AskedAt, r.VerifiedAt)
	return err
}

// Receipts lists a request's evidence.
func (db *DB) Receipts(ctx context.Context, requestID string) ([]Receipt, error) {
	var rs []Receipt
	err := db.SelectContext(ctx, &rs, `SELECT * FROM privacy_receipts WHERE request_id = $1 ORDER BY asked_at, system`, requestID)
	return rs, err
}

// PrivacyRequestsFor lists a subject's (or, with subject "", a shop's)
// requests of kind, newest first.
func (db *DB) PrivacyRequestsFor(ctx context.Context, shop, subject, kind string) ([]PrivacyRequest, error) {
	var rs []PrivacyRequest
	err := db.SelectContext(ctx, &rs, `SELECT * FROM privacy_requests WHERE shop = $1 AND subject = $2 AND kind = $3 ORDER BY received_at DESC`,
		shop, subject, kind)
	return rs, err
}

// SubjectRequest is what a merchant or auditor may see of one privacy
// request: never the sealed address or the raw order IDs.
type SubjectRequest struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Status      string          `json:"status"`
	ReceivedAt  time.Time       `json:"received_at"`
	CompletedAt *time.Time      `json:"completed_at,omitempty"`
	Receipts    []Receipt       `json:"receipts,omitempty"` // erasures: per system, what was asked and verified
	Report      json.RawMessage `json:"report,omitempty"`   // data requests: the report, once built
}

// SubjectRequests gathers a subject's requests of kind, newest first, each
// with its receipts (an erasure) or its report (a data request).
func (db *DB) SubjectRequests(ctx context.Context, shop, subject, kind string) ([]SubjectRequest, error) {
	reqs, err := db.PrivacyRequestsFor(ctx, shop, subject, kind)
	if err != nil {
		return nil, err
	}
	out := make([]SubjectRequest, len(reqs))
	for i, r := range reqs {
		out[i] = r.view()
		if kind == KindDataRequest {
			var report []byte
			err := db.GetContext(ctx, &report, `SELECT report FROM subject_reports WHERE request_id = $1`, r.ID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			out[i].Report = report
			continue
		}
		if out[i].Receipts, err = db.Receipts(ctx, r.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RecentPrivacyRequests lists a shop's latest requests of every kind,
// newest first, without their evidence.
func (db *DB) RecentPrivacyRequests(ctx context.Context, shop string, limit int) ([]SubjectRequest, error) {
	var rs []PrivacyRequest
	if err := db.SelectContext(ctx, &rs, `SELECT * FROM privacy_requests WHERE shop = $1 ORDER BY received_at DESC LIMIT $2`, shop, limit); err != nil {
		return nil, err
	}
	out := make([]SubjectRequest, len(rs))
	for i, r := range rs {
		out[i] = r.view()
	}
	return out, nil
}

func (r PrivacyRequest) view() SubjectRequest {
	return SubjectRequest{ID: r.ID, Kind: r.Kind, Status: r.Status, ReceivedAt: r.ReceivedAt, CompletedAt: r.CompletedAt}
}

// OpenErasures counts the erasure requests (customers/redact, shop/redact)
// not yet done, and says when the oldest of them was received (zero if
// none).
func (db *DB) OpenErasures(ctx context.Context) (int, time.Time, error) {
	var r struct {
		N      int          `db:"n"`
		Oldest sql.NullTime `db:"oldest"`
	}
	err := db.GetContext(ctx, &r, `SELECT count(*) AS n, min(received_at) AS oldest FROM privacy_requests
		WHERE status = 'received' AND kind IN ($1, $2)`, KindCustomerRedact, KindShopRedact)
	return r.N, r.Oldest.Time, err
}
