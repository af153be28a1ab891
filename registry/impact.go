package registry

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Incident impact: "system S was breached between T1 and T2: whose data did
// it hold?", answered from the registry (docs/incident-response.md).
//
// A touch makes the system hold the datum from the entry's time until the
// first of: its expires_at, or a deletion or erasure of the same datum in
// the same system for the same request (ref) or the same subject. Data
// stored before T1 and not yet gone counts: it was there to be taken.
// Reads and collections are a moment (expires_at is their time). The
// registry's own audit and access-control entries hold no customer data
// beyond pseudonyms, and are left out.

// ImpactSubject is one person the incident touched: by pseudonym, or, for
// a request never linked to a customer, by the request's ref alone.
type ImpactSubject struct {
	Shop       string   `json:"shop"`
	Subject    string   `json:"subject,omitempty"`
	Refs       []string `json:"refs"`
	OrderNames []string `json:"order_names"` // from review_requests, while retention keeps them
	Categories []string `json:"categories"`
	Records    int      `json:"records"`
	// ByCategory is Records per datum.
	ByCategory map[string]int `json:"records_by_category"`
}

// Impact is the answer for one system and window.
type Impact struct {
	System     string          `json:"system"`
	Shop       string          `json:"shop,omitempty"`
	Since      time.Time       `json:"since"`
	Until      time.Time       `json:"until"`
	Subjects   []ImpactSubject `json:"subjects"`
	Categories map[string]int  `json:"categories"` // datum → records
	Records    int             `json:"records"`
}

// Shops lists the shops the incident touched.
func (im Impact) Shops() []string {
	var out []string
	for _, s := range im.Subjects {
		if !slices.Contains(out, s.Shop) {
			out = append(out, s.Shop)
		}
	}
	return out
}

var notCustomerData = map[string]bool{PurposeAudit: true, PurposeAccessControl: true}

// ComputeImpact works on entries of one system (any order) and links
// (shop → ref → subject, from the whole registry).
func ComputeImpact(system, shop string, since, until time.Time, entries []Entry, links map[[2]string]string) Impact {
	im := Impact{System: system, Shop: shop, Since: since, Until: until, Categories: map[string]int{}, Subjects: []ImpactSubject{}}
	type key struct{ shop, datum, who string }
	ends := map[key][]time.Time{}
	for _, e := range entries {
		if e.System == system && (e.Action == ActionDeleted || e.Action == ActionErased) {
			ends[key{e.Shop, e.Datum, "ref:" + e.Ref}] = append(ends[key{e.Shop, e.Datum, "ref:" + e.Ref}], e.At)
			if e.Subject != "" {
				ends[key{e.Shop, e.Datum, "sub:" + e.Subject}] = append(ends[key{e.Shop, e.Datum, "sub:" + e.Subject}], e.At)
			}
		}
	}
	firstAfter := func(ts []time.Time, t time.Time) (time.Time, bool) {
		var best time.Time
		found := false
		for _, x := range ts {
			if !x.Before(t) && (!found || x.Before(best)) {
				best, found = x, true
			}
		}
		return best, found
	}
	bySubject := map[[2]string]*ImpactSubject{}
	var order [][2]string
	for _, e := range entries {
		if e.System != system || (shop != "" && e.Shop != shop) || notCustomerData[e.Purpose] ||
			e.Action == ActionDeleted || e.Action == ActionErased || e.Action == ActionRefused {
			continue
		}
		subject := e.Subject
		if subject == "" {
			subject = links[[2]string{e.Shop, e.Ref}]
		}
		end := e.ExpiresAt
		if end.Before(e.At) {
			end = e.At
		}
		for _, who := range []string{"ref:" + e.Ref, "sub:" + subject} {
			if who == "sub:" {
				continue
			}
			if d, ok := firstAfter(ends[key{e.Shop, e.Datum, who}], e.At); ok && d.Before(end) {
				end = d
			}
		}
		// Held during [At, end]: does that meet [since, until)?
		if !e.At.Before(until) || end.Before(since) {
			continue
		}
		id := subject
		if id == "" {
			id = "ref:" + e.Ref
		}
		k := [2]string{e.Shop, id}
		s := bySubject[k]
		if s == nil {
			s = &ImpactSubject{Shop: e.Shop, Subject: subject, Refs: []string{}, OrderNames: []string{}, Categories: []string{}, ByCategory: map[string]int{}}
			bySubject[k] = s
			order = append(order, k)
		}
		if !slices.Contains(s.Refs, e.Ref) {
			s.Refs = append(s.Refs, e.Ref)
		}
		if !slices.Contains(s.Categories, e.Datum) {
			s.Categories = append(s.Categories, e.Datum)
		}
		s.Records++
		s.ByCategory[e.Datum]++
		im.Categories[e.Datum]++
		im.Records++
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i][0] != order[j][0] {
			return order[i][0] < order[j][0]
		}
		return order[i][1] < order[j][1]
	})
	for _, k := range order {
		s := bySubject[k]
		sort.Strings(s.Refs)
		sort.Strings(s.Categories)
		im.Subjects = append(im.Subjects, *s)
	}
	return im
}

// IncidentImpact reads what ComputeImpact needs from the registry, and the
// order names of the requests involved from review_requests (those that
// retention has not yet deleted).
func IncidentImpact(ctx context.Context, q sqlx.QueryerContext, system, shop string, since, until time.Time) (Impact, error) {
	if !KnownSystem(system) {
		return Impact{}, fmt.Errorf("unknown system %q", system)
	}
	if !since.Before(until) {
		return Impact{}, fmt.Errorf("since must be before until")
	}
	var es []Entry
	if err := sqlx.SelectContext(ctx, q, &es, `SELECT * FROM registry_entries WHERE system = $1 AND ($2 = '' OR shop = $2) AND at < $3 ORDER BY seq`,
		system, shop, until); err != nil {
		return Impact{}, fmt.Errorf("registry: read entries: %w", err)
	}
	var refs []string
	for _, e := range es {
		if e.Subject == "" {
			refs = append(refs, e.Ref)
		}
	}
	links := map[[2]string]string{}
	rows, err := q.QueryxContext(ctx, `SELECT DISTINCT shop, ref, subject FROM registry_entries WHERE subject <> '' AND ref = ANY($1) AND ($2 = '' OR shop = $2)`,
		pq.Array(refs), shop)
	if err != nil {
		return Impact{}, fmt.Errorf("registry: read links: %w", err)
	}
	for rows.Next() {
		var s, r, sub string
		if err := rows.Scan(&s, &r, &sub); err != nil {
			rows.Close()
			return Impact{}, err
		}
		links[[2]string{s, r}] = sub
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Impact{}, err
	}
	im := ComputeImpact(system, shop, since, until, es, links)
	for i := range im.Subjects {
		s := &im.Subjects[i]
		if err := sqlx.SelectContext(ctx, q, &s.OrderNames, `SELECT order_name FROM review_requests WHERE shop = $1 AND request_id = ANY($2) ORDER BY order_name`,
			s.Shop, pq.Array(s.Refs)); err != nil {
			return Impact{}, fmt.Errorf("read order names: %w", err)
		}
		if s.OrderNames == nil {
			s.OrderNames = []string{}
		}
	}
	return im, nil
}
