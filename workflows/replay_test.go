package workflows_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/candorhq/candor/workflows"
)

// recordedHistories are the histories in testdata/histories that must be
// there: every path of every workflow, and each versioned change's older
// side, recorded on a real Temporal server by the code of its day
// (testdata/histories/README.md says which commit recorded which).
var recordedHistories = []string{
	"privacy_customer_redact.json",
	"privacy_customer_redact_before_shred_keys.json",
	"privacy_data_request.json",
	"privacy_redrive.json",
	"privacy_shop_redact.json",
	"privacy_shop_redact_long_steps.json",
	"privacy_uninstall.json",
	"reconcile.json",
	"reconcile_fanout.json",
	"retention.json",
	"retention_fanout.json",
	"review_before_live_delay.json",
	"review_before_send_window.json",
	"review_cancelled.json",
	"review_delivered_sent_reminded.json",
	"review_fallback_sent_reminded.json",
	"review_search_attributes.json",
	"review_send_heartbeat.json",
	"review_sent_unconfirmed.json",
	"review_shipments.json",
	"review_signalled_sent_reminded.json",
}

// TestReplay_RecordedHistoriesRunOnTodaysCode replays each recorded history
// against the workflows as they are now. A change that would break a
// workflow already running in production (a new activity call, a reordered
// timer, a versioned branch without its GetVersion) fails here.
func TestReplay_RecordedHistoriesRunOnTodaysCode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for _, want := range recordedHistories {
		if !slices.Contains(names, want) {
			t.Errorf("testdata/histories/%s is missing", want)
		}
	}
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Events) < 5 {
				t.Fatalf("%d events: not a whole recording", len(h.Events))
			}
			replayer := worker.NewWorkflowReplayer()
			workflows.RegisterWorkflows(replayer)
			if err := replayer.ReplayWorkflowHistoryWithOptions(logger, h, replayOptions(h)); err != nil {
				t.Fatalf("does not replay on today's code: %v", err)
			}
		})
	}
}

// replayOptions replay a history under its own workflow ID, which the
// started event records: the fan-out workflows name their children after it.
func replayOptions(h *historypb.History) worker.ReplayWorkflowHistoryOptions {
	id := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
	return worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}}
}
