package activities_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
)

// TestSweepPostgres_ARowExtendedMeanwhileSurvives: the sweep deletes
// expired requests without locking them first. One whose period another
// transaction extends while the sweep waits for it must stay; the other
// expired ones go, and the read-back passes.
func TestSweepPostgres_ARowExtendedMeanwhileSurvives(t *testing.T) {
	f := newFixture(t, shopifytest.DemoOrder(4001))
	ctx := context.Background()
	if _, err := f.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject,
		status, created_at, updated_at, expires_at)
	SELECT 'rq_old_' || i, $1, 7000 + i, '#' || i, '[]', 'sub_old_' || i, 'skipped',
		now() - interval '200 days', now() - interval '200 days', now() - interval '1 day' - i * interval '1 minute'
	FROM generate_series(1, 3) AS i`, testShop); err != nil {
		t.Fatal(err)
	}

	tx, err := f.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE review_requests SET expires_at = now() + interval '30 days' WHERE request_id = 'rq_old_2'`); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res []activities.PolicySweep
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f.env.ExecuteActivity(f.acts.SweepPostgres, "test-run")
		var r result
		if r.err = err; err == nil {
			r.err = v.Get(&r.res)
		}
		done <- r
	}()
	// Commit the extension only once the sweep waits for that row.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := f.db.GetContext(ctx, &waiting, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep never waited for the row being extended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("sweep: %v", r.err)
	}
	var left []string
	if err := f.db.SelectContext(ctx, &left, `SELECT request_id FROM review_requests ORDER BY request_id`); err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || !slices.Contains(left, "rq_old_2") || !slices.Contains(left, f.reqID) {
		t.Fatalf("left after the sweep: %v, want rq_old_2 (extended) and %s (not expired)", left, f.reqID)
	}
	for _, p := range r.res {
		if p.Policy == retention.ReviewRequests && p.Deleted != 2 {
			t.Errorf("the sweep reports %d review requests deleted, want 2", p.Deleted)
		}
	}
}

// TestSweepSendGrid_ErasesTheRecipientOfAnUnconfirmedSend: a send whose
// outcome is unknown may be in SendGrid's hands, so retention asks SendGrid
// to erase its recipient like any send's.
func TestSweepSendGrid_ErasesTheRecipientOfAnUnconfirmedSend(t *testing.T) {
	f := newFixture(t, customerOrder(testOrderID))
	f.sg.AcceptThenFail(1, 502)
	if res := f.mustSend(t, activities.KindFirst); res.Status != store.StatusSentUnconfirmed {
		t.Fatalf("send = %+v, want %s", res, store.StatusSentUnconfirmed)
	}
	f.acts.Now = func() time.Time { return time.Now().Add(100 * 24 * time.Hour) } // past the 30-day sendgrid_activity period
	v, err := f.env.ExecuteActivity(f.acts.SweepSendGrid, "test-run")
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	var res activities.PolicySweep
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if got := f.sg.Erased(); !slices.Contains(got, f.order.Customer.Email) {
		t.Errorf("SendGrid was asked to erase %d addresses, not the unconfirmed send's recipient", len(got))
	}
	if r := f.request(t); r.SendGridErasedAt == nil {
		t.Error("the request is not marked erased at SendGrid")
	}
}

// TestSweepPostgres_AWaitingRequestSurvivesPastItsExpiry: a request whose
// first email (scheduled, sending) or reminder (sending) may still go is
// kept, however far past its expiry; its workflow still needs the row and
// the row's data key. A finished one of the same age goes, the read-back
// passes, and the result says what was kept.
func TestSweepPostgres_AWaitingRequestSurvivesPastItsExpiry(t *testing.T) {
	f := newFixture(t, shopifytest.DemoOrder(4002))
	ctx := context.Background()
	if _, err := f.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject,
		status, reminder_status, created_at, updated_at, expires_at)
	VALUES ('rq_scheduled', $1, 7101, '#7101', '[]', '', 'scheduled', '', now() - interval '200 days', now(), now() - interval '20 days'),
	       ('rq_sending', $1, 7102, '#7102', '[]', '', 'sending', '', now() - interval '200 days', now(), now() - interval '20 days'),
	       ('rq_reminding', $1, 7103, '#7103', '[]', 'sub_r', 'sent', 'sending', now() - interval '200 days', now(), now() - interval '20 days'),
	       ('rq_done', $1, 7104, '#7104', '[]', 'sub_d', 'sent', 'sent', now() - interval '200 days', now(), now() - interval '20 days')`,
		testShop); err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"rq_scheduled", "rq_done"} {
		if _, err := f.db.ExecContext(ctx, `INSERT INTO data_keys (id, shop, owner, wrapped) VALUES ($1, $2, $3, 'w')`,
			"dk_"+owner, testShop, owner); err != nil {
			t.Fatal(err)
		}
	}
	v, err := f.env.ExecuteActivity(f.acts.SweepPostgres, "test-run")
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	var res []activities.PolicySweep
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := f.db.SelectContext(ctx, &left, `SELECT request_id FROM review_requests ORDER BY request_id`); err != nil {
		t.Fatal(err)
	}
	want := []string{"rq_reminding", "rq_scheduled", "rq_sending", f.reqID}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("left after the sweep: %v, want %v (the waiting ones and the fresh one)", left, want)
	}
	var keys []string
	if err := f.db.SelectContext(ctx, &keys, `SELECT owner FROM data_keys WHERE owner IN ('rq_scheduled', 'rq_done') ORDER BY owner`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"rq_scheduled"}) {
		t.Errorf("data keys left: %v, want the waiting request's only", keys)
	}
	for _, p := range res {
		if p.Policy != retention.ReviewRequests {
			continue
		}
		if p.Deleted != 1 {
			t.Errorf("the sweep reports %d review requests deleted, want 1", p.Deleted)
		}
		if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "3 review requests past their expiry still wait to send") {
			t.Errorf("notes = %q, want one saying 3 waiting requests were kept", p.Notes)
		}
	}
}
