package prod

import (
	"context"
	enumspb "go.temporal.io/api/enums/v1"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/registry"
)

// seedExpired inserts n review requests of the deployment's shop, sent and
// erased at SendGrid long ago and now past their expiry, each with its data
// key, as the retention benchmark does (bench/retention_test.go).
func (d *deployment) seedExpired(t *testing.T, n int) {
	t.Helper()
	if _, err := d.db.Exec(`INSERT INTO data_keys (id, shop, owner, wrapped)
	SELECT 'dk_swept_' || i, $1, 'rq_swept_' || i, 'v1.00000000.' || md5(i::text) FROM generate_series(1, $2) AS i`, shop, n); err != nil {
		t.Fatalf("seed data keys: %v", err)
	}
	if _, err := d.db.Exec(`INSERT INTO review_requests (request_id, shop, order_id, order_name, products, subject,
		status, sent_at, sendgrid_erased_at, created_at, updated_at, expires_at)
	SELECT 'rq_swept_' || i, $1, 5000000000 + i, '#' || i, '[{"id":1,"title":"Mug"}]',
		'sub_' || md5(i::text), 'sent', now() - interval '200 days', now() - interval '170 days',
		now() - interval '200 days', now() - interval '170 days', now() - interval '20 days' - i * interval '1 ms'
	FROM generate_series(1, $2) AS i`, shop, n); err != nil {
		t.Fatalf("seed expired requests: %v", err)
	}
}

// TestPostgresRestartedMidSweep_TheSweepResumesAndTheRegistryHasNoGap
// stops the one PostgreSQL (Candor's and Temporal's) while a retention
// sweep is deleting expired review requests, between its batches'
// commits, and starts it again. Intake answers 503 meanwhile, inside
// Shopify's timeout. The same serve and worker processes, not restarted,
// recover: Shopify's retry is accepted, the sweep operator's `candor
// retention run --wait` returns, every expired row is gone with exactly one
// `deleted` registry entry each (none lost with a batch cut off, none
// written twice by the retry), and the registry chain verifies.
func TestPostgresRestartedMidSweep_TheSweepResumesAndTheRegistryHasNoGap(t *testing.T) {
	d := deploy(t, 1, 1)
	ctx := context.Background()
	const expired = 20_000
	d.seedExpired(t, expired)
	o := d.newOrder(time.Now().UnixNano()%1_000_000_000+1500, "sweep")
	body, hook := shopifytest.FulfillmentPayload(o, "delivered"), shopifytest.NewWebhookID()

	type outcome struct {
		out string
		err error
	}
	swept := make(chan outcome, 1)
	go func() {
		out, err := d.candor.Run(ctx, "retention", "run", "--wait")
		swept <- outcome{out, err}
	}()
	left := func() int {
		return d.count(t, `SELECT count(*) FROM review_requests WHERE request_id LIKE 'rq_swept_%'`)
	}
	deadline := time.Now().Add(time.Minute)
	n := left()
	for ; n == expired; n = left() {
		if time.Now().After(deadline) {
			t.Fatal("the sweep deleted nothing within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	restartPostgres := stopPostgres(t)
	stopped := time.Now()
	t.Logf("PostgreSQL stopped with %d of %d expired rows deleted", expired-n, expired)
	if n == 0 {
		t.Fatal("the sweep had already deleted every row: the stop came too late to test anything")
	}
	d.refused(t, hook, body, "PostgreSQL, mid-sweep,")
	time.Sleep(2 * time.Second) // down long enough for the sweep's batch in flight to fail
	restartPostgres()
	back := time.Now()
	d.retryUntilAccepted(t, hook, body, back.Add(time.Minute))
	intake := time.Since(back)

	var res outcome
	select {
	case res = <-swept:
	case <-time.After(3 * time.Minute):
		t.Fatal("retention run --wait had not returned 3 minutes after PostgreSQL came back")
	}
	if res.err != nil {
		t.Fatalf("retention run --wait: %v", res.err)
	}
	t.Logf("PostgreSQL down for %v; intake accepted the retry %v after it came back, and the sweep completed %v after",
		back.Sub(stopped).Round(time.Millisecond), intake.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	if n := left(); n != 0 {
		t.Errorf("%d expired rows left after the sweep", n)
	}
	// The batch cut off failed its attempt; a later attempt finished.
	m := regexp.MustCompile(`workflow (retention/manual/\S+)`).FindStringSubmatch(res.out)
	if m == nil {
		t.Fatalf("retention run named no workflow:\n%s", res.out)
	}
	// The shop's Postgres step runs in the sweep's child for the shop.
	if a := completedAttempt(t, d, shopChild(t, d, m[1], shop), "SweepPostgresShop"); a < 2 {
		t.Errorf("SweepPostgresShop completed on attempt %d: the stop did not reach the sweep", a)
	}
	var entries struct {
		All      int `db:"all"`
		Distinct int `db:"distinct"`
	}
	if err := d.db.Get(&entries, `SELECT count(*) AS all, count(DISTINCT ref) AS distinct FROM registry_entries
		WHERE action = $1 AND system = $2 AND ref LIKE 'rq_swept_%'`, registry.ActionDeleted, registry.SystemPostgres); err != nil {
		t.Fatal(err)
	}
	if entries.All != expired || entries.Distinct != expired {
		t.Errorf("%d deleted entries for %d requests, want exactly one for each of %d", entries.All, entries.Distinct, expired)
	}
	t.Logf("verify after the restart: %s", d.exportVerified(t))
	d.mail.WaitFor(1, time.Minute)
	time.Sleep(2 * time.Second)
	onePerAddress(t, d, o.Customer.Email)
}

// shopChild is the ID of the child workflow the fan-out run parentID
// started for shop, as its history records it.
func shopChild(t *testing.T, d *deployment, parentID, shop string) string {
	t.Helper()
	it := d.tc.GetWorkflowHistory(context.Background(), parentID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var ids []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			if strings.HasSuffix(a.GetWorkflowId(), "/"+shop) {
				return a.GetWorkflowId()
			}
			ids = append(ids, a.GetWorkflowId())
		}
	}
	t.Fatalf("%s started no child for %s; it started %v", parentID, shop, ids)
	return ""
}
