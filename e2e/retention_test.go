package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

func TestRetention_SweepDeletesExpiredRowsAndNothingUnexpired(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	now := time.Now()
	base := int64(9_000_000)
	seedRequests := func(prefix string, n int, expires time.Time) {
		base += 100_000
		err := s.db.InTx(ctx, func(tx *sqlx.Tx) error {
			for i := 0; i < n; i++ {
				if _, err := store.CreateRequest(ctx, tx, store.Request{RequestID: fmt.Sprintf("%s_%d", prefix, i), Shop: shop,
					OrderID: base + int64(i), OrderName: "#1", ExpiresAt: expires}, []store.Product{{ID: 1, Title: "Mug"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	seedRequests("rq_old", 12_000, now.Add(-time.Hour)) // more than two batches
	seedRequests("rq_new", 50, now.Add(time.Hour))
	if _, err := s.db.Exec(`INSERT INTO webhook_deliveries (webhook_id, shop, topic, received_at) VALUES
		('old-1', $1, 'x', now() - interval '8 days'), ('new-1', $1, 'x', now())`, shop); err != nil {
		t.Fatal(err)
	}

	// The schedule is created idempotently and is visible.
	for i := 0; i < 2; i++ {
		if err := workflows.EnsureRetentionSchedule(ctx, s.tc); err != nil {
			t.Fatalf("ensure schedule (%d): %v", i, err)
		}
	}
	desc, err := s.tc.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID).Describe(ctx)
	if err != nil || len(desc.Schedule.Spec.Intervals) != 1 || desc.Schedule.Spec.Intervals[0].Every != workflows.RetentionInterval {
		t.Fatalf("schedule: %+v, %v", desc, err)
	}
	_ = s.tc.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID).Delete(ctx)

	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "retention/test/" + fmt.Sprint(now.UnixNano()), TaskQueue: workflows.TaskQueue}, workflows.Retention)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.SweepResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.ReviewRequests != 12_000 || res.WebhookDeliveries != 1 || res.ExpiredLeft != 0 || !res.TemporalWithinRule {
		t.Fatalf("sweep result %+v", res)
	}
	var left, fresh, hooks int
	_ = s.db.Get(&left, `SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq_old%'`)
	_ = s.db.Get(&fresh, `SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq_new%'`)
	_ = s.db.Get(&hooks, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id IN ('old-1', 'new-1')`)
	if left != 0 || fresh != 50 || hooks != 1 {
		t.Fatalf("after the sweep: %d expired left, %d unexpired kept (want 50), %d webhook IDs (want 1)", left, fresh, hooks)
	}
	var deleted int
	_ = s.db.Get(&deleted, `SELECT count(*) FROM registry_entries WHERE action = 'deleted' AND purpose = $1`, registry.PurposeRetention)
	if deleted != 12_000 {
		t.Fatalf("%d deletions recorded in the registry, want 12000", deleted)
	}
	if es, _ := registry.Entries(ctx, s.db, shop); registry.VerifyChain(es) != -1 {
		t.Fatal("registry chain broken by the sweep")
	}
}
