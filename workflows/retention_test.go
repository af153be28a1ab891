package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/workflows"
)

// TestRetention_ShopsPageByPageOneShopsSendGridFailureStaysItsOwn sweeps 450
// shops (three runs: two full pages and continue-as-new, then the rest) with
// mocked steps. One shop's SendGrid step always fails: it is tried five
// times and recorded as not done; that shop's Temporal step and Postgres
// step still run (Postgres keeping the rows SendGrid needs), every other
// shop is swept in full, and the summary receipts count it all.
func TestRetention_ShopsPageByPageOneShopsSendGridFailureStaysItsOwn(t *testing.T) {
	const n = 450
	shops := make([]string, n)
	for i := range shops {
		shops[i] = fmt.Sprintf("shop-%03d.myshopify.com", i)
	}
	failing := shops[321]
	var (
		mu        sync.Mutex
		sgTries   = map[string]int{}
		trDone    = map[string]bool{}
		pgKeep    = map[string]bool{}
		notDone   []activities.PolicySweep
		shared    activities.SweepSharedInput
		runs      int
		in        = workflows.RetentionInput{}
		res       activities.SweepResult
		perRunMax int
	)
	for {
		runs++
		if runs > 10 {
			t.Fatal("no end")
		}
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		env := suite.NewTestWorkflowEnvironment()
		var acts *activities.Activities
		env.RegisterActivity(acts)
		// The test environment does each child's start on the parent's
		// goroutine (a real worker only queues the command), so on a busy
		// machine a page of starts can outlast the deadlock detector's 1 s.
		env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
		env.RegisterWorkflow(workflows.RetentionShop)
		env.OnActivity(acts.ShopPage, mock.Anything, mock.Anything).Return(shopPages(shops))
		perRun := 0
		env.OnActivity(acts.SweepSendGridShop, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.SweepShopInput) (activities.PolicySweep, error) {
				mu.Lock()
				defer mu.Unlock()
				sgTries[in.Shop]++
				perRun++
				if in.Shop == failing {
					return activities.PolicySweep{}, errors.New("SendGrid answered 500")
				}
				return activities.PolicySweep{Policy: retention.SendGridActivity, System: registry.SystemSendGrid, Shop: in.Shop, Deleted: 1}, nil
			})
		env.OnActivity(acts.SweepTemporalShop, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.SweepShopInput) (activities.PolicySweep, error) {
				mu.Lock()
				defer mu.Unlock()
				trDone[in.Shop] = true
				return activities.PolicySweep{Policy: retention.TemporalHistories, System: registry.SystemTemporal, Shop: in.Shop, Deleted: 2}, nil
			})
		env.OnActivity(acts.SweepPostgresShop, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.SweepShopInput) (activities.PolicySweep, error) {
				mu.Lock()
				defer mu.Unlock()
				pgKeep[in.Shop] = in.KeepSendGridDue
				return activities.PolicySweep{Policy: retention.ReviewRequests, System: registry.SystemPostgres, Shop: in.Shop, Deleted: 3}, nil
			})
		env.OnActivity(acts.SaveSweepReceipt, mock.Anything, mock.Anything, mock.Anything).Return(
			func(_ context.Context, _ string, p activities.PolicySweep) error {
				mu.Lock()
				defer mu.Unlock()
				notDone = append(notDone, p)
				return nil
			})
		env.OnActivity(acts.SweepShared, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.SweepSharedInput) (activities.SharedSweep, error) {
				shared = in
				return activities.SharedSweep{WithinPolicy: true}, nil
			})
		env.ExecuteWorkflow(workflows.Retention, in)
		perRunMax = max(perRunMax, perRun)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			in = workflows.RetentionInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		break
	}
	if runs != 3 || perRunMax > 200+4 { // a page of shops, and the failing shop's retries
		t.Errorf("%d runs, at most %d SendGrid steps in one", runs, perRunMax)
	}
	if len(trDone) != n || len(pgKeep) != n || len(sgTries) != n {
		t.Fatalf("swept %d shops' Temporal, %d Postgres, %d SendGrid; want %d each", len(trDone), len(pgKeep), len(sgTries), n)
	}
	if sgTries[failing] != 5 || !pgKeep[failing] {
		t.Errorf("failing shop: %d SendGrid tries (want 5), Postgres kept its SendGrid rows: %v", sgTries[failing], pgKeep[failing])
	}
	for _, s := range shops {
		if s != failing && (sgTries[s] != 1 || pgKeep[s]) {
			t.Fatalf("%s: %d SendGrid tries, keep %v", s, sgTries[s], pgKeep[s])
		}
	}
	if len(notDone) != 1 || notDone[0].Shop != failing || notDone[0].Policy != retention.SendGridActivity || !notDone[0].NotDone {
		t.Fatalf("not-done receipts %+v", notDone)
	}
	want := map[string]int64{retention.SendGridActivity: n - 1, retention.TemporalHistories: 2 * n, retention.ReviewRequests: 3 * n}
	if len(shared.PerShop) != 3 {
		t.Fatalf("summary receipts %+v", shared.PerShop)
	}
	for _, p := range shared.PerShop {
		if p.Deleted != want[p.Policy] || res.Deleted(p.Policy) != want[p.Policy] {
			t.Errorf("%s: summary %d, result %d, want %d", p.Policy, p.Deleted, res.Deleted(p.Policy), want[p.Policy])
		}
		wantNotDone := "0 not done"
		if p.Policy == retention.SendGridActivity {
			wantNotDone = "1 not done"
		}
		if !strings.Contains(p.Verified, wantNotDone) || !strings.Contains(p.Asked, fmt.Sprintf("%d shops", n)) {
			t.Errorf("%s: asked %q, verified %q, want %d shops, %q", p.Policy, p.Asked, p.Verified, n, wantNotDone)
		}
	}
}
