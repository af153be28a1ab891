package activities_test

import (
	"context"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/retention"
)

// TestSweepPostgresShop_ResumesFromItsHeartbeatAfterAFailedAttempt: an
// attempt that dies midway (its context cancelled after its first batch,
// as when its worker stops) leaves its cursor in the heartbeat details; the next
// attempt deletes only the rest, and its receipt counts every row once.
func TestSweepPostgresShop_ResumesFromItsHeartbeatAfterAFailedAttempt(t *testing.T) {
	f := newFixture(t, shopifytest.DemoOrder(4101))
	ctx := context.Background()
	const n = 50
	if _, err := f.db.ExecContext(ctx, `INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject,
		status, created_at, updated_at, expires_at)
	SELECT 'rq_old_' || i, $1, 7000 + i, '#' || i, '[]', 'sub_old_' || i, 'skipped',
		now() - interval '200 days', now() - interval '200 days', now() - interval '1 day' - i * interval '1 minute'
	FROM generate_series(1, $2) AS i`, testShop, n); err != nil {
		t.Fatal(err)
	}
	f.acts.SweepBatch = 10
	in := activities.SweepShopInput{RunID: "test-run", Shop: testShop}

	// Attempt 1: stopped after its first batch. (The SDK sends the first
	// heartbeat at once and batches the later ones, so the first is the one
	// the test can act on while the attempt runs.)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: stop})
	var beats []converter.EncodedValues
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		beats = append(beats, details)
		cancel()
	})
	if _, err := env.ExecuteActivity(f.acts.SweepPostgresShop, in); err == nil {
		t.Fatal("the stopped attempt succeeded")
	}
	var left int
	if err := f.db.GetContext(ctx, &left, `SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq_old_%'`); err != nil {
		t.Fatal(err)
	}
	if left != n-10 {
		t.Fatalf("%d expired rows left after the stopped attempt, want %d", left, n-10)
	}

	// Attempt 2: given the last heartbeat, as Temporal gives the next attempt.
	var raw map[string]any
	if err := beats[0].Get(&raw); err != nil {
		t.Fatal(err)
	}
	env2 := suite.NewTestActivityEnvironment()
	env2.RegisterActivity(f.acts)
	env2.SetHeartbeatDetails(raw)
	var first map[string]any
	env2.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		if first == nil {
			_ = details.Get(&first)
		}
	})
	v, err := env2.ExecuteActivity(f.acts.SweepPostgresShop, in)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.PolicySweep
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Deleted != n || res.Policy != retention.ReviewRequests || res.Shop != testShop {
		t.Fatalf("result %+v, want %d deleted", res, n)
	}
	// It went on from the cursor: its first batch already counts the first
	// attempt's 10 rows, in the same pass.
	if first == nil || first["deleted"].(float64) != 20 || first["pass"].(float64) != 0 {
		t.Fatalf("first heartbeat of the resumed attempt: %v", first)
	}
	var entries, receipts int
	if err := f.db.GetContext(ctx, &entries, `SELECT count(*) FROM registry_entries WHERE ref LIKE 'rq_old_%' AND action = 'deleted'`); err != nil {
		t.Fatal(err)
	}
	if err := f.db.GetContext(ctx, &receipts, `SELECT count(*) FROM retention_receipts WHERE run_id = 'test-run' AND shop = $1 AND deleted = $2`, testShop, n); err != nil {
		t.Fatal(err)
	}
	if entries != n || receipts != 1 {
		t.Fatalf("%d deletion entries (want %d), %d receipts for the shop (want 1)", entries, n, receipts)
	}
}
