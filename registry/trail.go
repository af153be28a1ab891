package registry

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
)

// TrailRow says where one datum of one subject went: which system, what was
// done with it, when first and last, until when it is kept, and whether it
// is deleted there.
type TrailRow struct {
	Datum     string    `json:"datum"`
	System    string    `json:"system"`
	Role      string    `json:"role"`
	Actions   []string  `json:"actions"`
	Purposes  []string  `json:"purposes"`
	Bases     []string  `json:"legal_bases"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	ExpiresAt time.Time `json:"expires_at"`
	Recipient bool      `json:"recipient"` // the datum was transmitted to this system
	Deleted   bool      `json:"deleted"`   // deleted or erased there, or expired
	Requests  int       `json:"requests"`  // distinct refs
}

// Trail answers "where did this person's data go" (GDPR Art. 15, LGPD Art.
// 18 VII) for one subject of one shop.
type Trail struct {
	Shop    string     `json:"shop"`
	Subject string     `json:"subject"`
	AsOf    time.Time  `json:"as_of"`
	Entries int        `json:"entries"`
	Rows    []TrailRow `json:"rows"`
}

// SubjectTrail gathers a subject's entries, including those written before
// the customer was known and linked by request ID, and sums them up.
func SubjectTrail(ctx context.Context, q sqlx.QueryerContext, shop, subject string, now time.Time) (Trail, error) {
	t := Trail{Shop: shop, Subject: subject, AsOf: now.UTC()}
	var es []Entry
	// Two index lookups: the subject's own entries, and the subject-less
	// entries of the same requests by ref. (One OR over both made Postgres
	// read every subject-less entry of the shop.)
	err := sqlx.SelectContext(ctx, q, &es, `
		WITH own AS (SELECT * FROM registry_entries WHERE shop = $1 AND subject = $2 AND subject <> '')
		SELECT * FROM own
		UNION ALL
		SELECT * FROM registry_entries
		WHERE shop = $1 AND subject = '' AND ref IN (SELECT ref FROM own)
		ORDER BY seq`, shop, subject)
	if err != nil {
		return t, fmt.Errorf("read trail: %w", err)
	}
	t.Entries = len(es)
	type key struct{ datum, system string }
	rows := map[key]*TrailRow{}
	refs := map[key]map[string]bool{}
	set := func(list []string, v string) []string {
		for _, x := range list {
			if x == v {
				return list
			}
		}
		return append(list, v)
	}
	for _, e := range es {
		k := key{e.Datum, e.System}
		r := rows[k]
		if r == nil {
			sys, _ := SystemByKey(e.System)
			r = &TrailRow{Datum: e.Datum, System: e.System, Role: sys.Role, First: e.At}
			rows[k], refs[k] = r, map[string]bool{}
		}
		r.Actions = set(r.Actions, e.Action)
		r.Purposes = set(r.Purposes, e.Purpose)
		r.Bases = set(r.Bases, e.LegalBasis)
		r.Last = e.At
		refs[k][e.Ref] = true
		switch e.Action {
		case ActionDeleted, ActionErased:
			r.Deleted = true
		case ActionTransmitted:
			r.Recipient = true
			fallthrough
		default:
			if e.ExpiresAt.After(r.ExpiresAt) {
				r.ExpiresAt = e.ExpiresAt
			}
		}
	}
	for k, r := range rows {
		r.Requests = len(refs[k])
		if !r.ExpiresAt.After(now) {
			r.Deleted = true
		}
		t.Rows = append(t.Rows, *r)
	}
	sort.Slice(t.Rows, func(i, j int) bool {
		if t.Rows[i].Datum != t.Rows[j].Datum {
			return t.Rows[i].Datum < t.Rows[j].Datum
		}
		return t.Rows[i].System < t.Rows[j].System
	})
	return t, nil
}
