package workflows_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/workflows"
)

// TestReviewRequest_AShreddedKeyEndsItWithoutANewKey: the customer is
// erased while the request waits for its email, and its data key is
// destroyed. At its next step the workflow ends with a non-retryable
// DataKeyShredded error: no fresh key is made for the request, nothing is
// sent or marked, and no step is retried.
func TestReviewRequest_AShreddedKeyEndsItWithoutANewKey(t *testing.T) {
	db, _ := storetest.New(t)
	ring, err := keys.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	dk := datakeys.New(db, ring)
	in := input()
	id := review.WorkflowID(in.Shop, in.OrderID)
	shop, owner, _ := workflows.DataKeyOwner(ring)(id)

	r := newRun(t, settings(0))
	r.env.SetDataConverter(dk.DataConverter(workflows.DataKeyOwner(ring)))
	r.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue})
	keyCount := func() int {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM data_keys WHERE shop = $1 AND owner = $2`, shop, owner); err != nil {
			t.Fatal(err)
		}
		return n
	}
	r.at(time.Hour, func() {
		if keyCount() != 1 {
			t.Errorf("the request has %d data keys before the erasure, want 1", keyCount())
		}
		var ids []string
		err := db.InTx(context.Background(), func(tx *sqlx.Tx) error {
			var err error
			ids, err = datakeys.Shred(context.Background(), tx, shop, []string{owner})
			return err
		})
		if err != nil || len(ids) != 1 {
			t.Errorf("shred: %v, %v", ids, err)
		}
		dk.Forget(ids...)
	})
	r.env.ExecuteWorkflow(workflows.ReviewRequest, in)

	if !r.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var appErr *temporal.ApplicationError
	if err := r.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != datakeys.ShreddedErrorType || !appErr.NonRetryable() {
		t.Fatalf("workflow error = %v, want a non-retryable %s", err, datakeys.ShreddedErrorType)
	}
	if n := keyCount(); n != 0 {
		t.Errorf("the request got %d fresh data keys after its key was destroyed", n)
	}
	if s := r.sendCalls(); len(s) != 0 {
		t.Errorf("sent after the erasure: %+v", s)
	}
	if m := r.markCalls(); len(m) != 0 {
		t.Errorf("marked after the erasure: %+v", m)
	}
}
