package workflows_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/workflows"
)

// A worker replays a workflow whenever it has to rebuild its state (a
// crowded sticky cache, a restart). The replay encodes the activity
// arguments again, under the request's data key; it must not make that key,
// which would write a row per replay of every request from before data
// keys, and a key for a request that has none.
func TestReplay_MakesNoDataKeys(t *testing.T) {
	db, _ := storetest.New(t)
	ctx := context.Background()
	ring, err := keys.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := datakeys.LoadIdentity(ctx, db, ring); err != nil {
		t.Fatal(err)
	}
	k := datakeys.New(db, ring)
	// The service key exists from an installation's first workflow on.
	if _, err := k.For(ctx, "", datakeys.ServiceOwner); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "histories", "review_delivered_sent_reminded.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter:    k.DataConverter(workflows.DataKeyOwner(ring)),
		FailureConverter: datakeys.FailureConverter(),
	})
	if err != nil {
		t.Fatal(err)
	}
	workflows.RegisterWorkflows(replayer)
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	id := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
	if err := replayer.ReplayWorkflowHistoryWithOptions(logger, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: id, RunID: "replay"},
	}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	var owners []string
	if err := db.Select(&owners, `SELECT owner FROM data_keys ORDER BY owner`); err != nil {
		t.Fatal(err)
	}
	if len(owners) != 1 || owners[0] != datakeys.ServiceOwner {
		t.Fatalf("after the replay data_keys holds keys of %v, want only the service key", owners)
	}
}
