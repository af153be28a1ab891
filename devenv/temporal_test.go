package devenv

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/candorhq/candor/review"
)

// candor dev points the dev server's UI at Candor's codec endpoint: the UI
// reads it from its settings.
func TestStartTemporal_UIUsesTheCodecEndpoint(t *testing.T) {
	const endpoint = "http://127.0.0.1:8080/codec/cnd_token"
	uiPort, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tp, err := StartTemporal(context.Background(), TemporalOptions{UIPort: uiPort, UICodecEndpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Stop()
	resp, err := http.Get(tp.UIURL + "/api/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Codec struct{ Endpoint string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Codec.Endpoint != endpoint {
		t.Fatalf("UI codec endpoint %q, %v", s.Codec.Endpoint, err)
	}
}

// TestMain doubles as the child process of
// TestStartTemporal_ServerEndsWhenCandorDies: with
// CANDOR_DEVENV_START_AND_HANG set, the test binary starts a dev server,
// prints its address and process ID and waits to be killed.
func TestMain(m *testing.M) {
	if os.Getenv("CANDOR_DEVENV_START_AND_HANG") != "" {
		tp, err := StartTemporal(context.Background(), TemporalOptions{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(tp.Address, tp.cmd.Process.Pid)
		select {}
	}
	os.Exit(m.Run())
}

// candor dev names its namespace (TEMPORAL_NAMESPACE): it is registered by
// the time StartTemporal returns, so the worker can poll it at once.
func TestStartTemporal_NamedNamespaceIsReadyOnReturn(t *testing.T) {
	const ns = "candor-dev-test"
	tp, err := StartTemporal(context.Background(), TemporalOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Stop()
	c := dial(t, tp.Address, ns)
	if _, err := c.WorkflowService().DescribeNamespace(context.Background(), &workflowservice.DescribeNamespaceRequest{Namespace: ns}); err != nil {
		t.Fatalf("namespace %s right after start: %v", ns, err)
	}
}

// candor dev keeps Temporal's state in .candor/temporal.db: a workflow
// started before a restart is there after it.
func TestStartTemporal_DatabaseFileKeepsWorkflowsAcrossRestarts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.db")
	ctx := context.Background()
	tp, err := StartTemporal(ctx, TemporalOptions{DatabaseFile: file})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, tp.Address, "default")
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept", TaskQueue: "nobody-polls"}, "Nothing"); err != nil {
		tp.Stop()
		t.Fatal(err)
	}
	tp.Stop()

	tp, err = StartTemporal(ctx, TemporalOptions{DatabaseFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Stop()
	if _, err := dial(t, tp.Address, "default").DescribeWorkflowExecution(ctx, "kept", ""); err != nil {
		t.Fatalf("the workflow started before the restart: %v", err)
	}
}

// A dev server that cannot start (here: its SQLite file's folder does not
// exist) is reported at once, with its own words, not after the 2-minute
// readiness wait, and leaves no process behind.
func TestStartTemporal_ServerThatExitsIsReportedAtOnceWithItsLog(t *testing.T) {
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = StartTemporal(context.Background(), TemporalOptions{Port: port,
		DatabaseFile: filepath.Join(t.TempDir(), "no-such-folder", "temporal.db")})
	if err == nil {
		t.Fatal("StartTemporal succeeded with a database file it cannot create")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the failure took %s to report", took)
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "no-such-folder") {
		t.Errorf("the error does not say the server exited and why: %v", err)
	}
	if err := portFree("127.0.0.1", port); err != nil {
		t.Errorf("port %d still taken after the failed start: %v", port, err)
	}
}

func dial(t *testing.T, addr, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// candor dev's Temporal has Candor's search attributes, with their types,
// in the namespace it names; a .candor/temporal.db from before they existed
// gets them at the next start.
func TestStartTemporal_RegistersCandorsSearchAttributes(t *testing.T) {
	const ns = "candor-dev-attributes"
	file := filepath.Join(t.TempDir(), "temporal.db")
	ctx := context.Background()
	want := map[string]enums.IndexedValueType{}
	for _, k := range review.SearchAttributes {
		want[k.GetName()] = k.GetValueType()
	}
	custom := func(addr string) map[string]enums.IndexedValueType {
		t.Helper()
		resp, err := dial(t, addr, ns).OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]enums.IndexedValueType{}
		for name, typ := range resp.GetCustomAttributes() {
			if _, ok := want[name]; ok {
				got[name] = typ
			}
		}
		return got
	}

	tp, err := StartTemporal(ctx, TemporalOptions{Namespace: ns, DatabaseFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := custom(tp.Address); !maps.Equal(got, want) {
		tp.Stop()
		t.Fatalf("search attributes after start: %v, want %v", got, want)
	}
	// As a database file from before Candor had them.
	if _, err := dial(t, tp.Address, ns).OperatorService().RemoveSearchAttributes(ctx, &operatorservice.RemoveSearchAttributesRequest{
		Namespace: ns, SearchAttributes: slices.Collect(maps.Keys(want))}); err != nil {
		tp.Stop()
		t.Fatal(err)
	}
	if got := custom(tp.Address); len(got) != 0 {
		tp.Stop()
		t.Fatalf("still there after removing them: %v", got)
	}
	tp.Stop()

	tp, err = StartTemporal(ctx, TemporalOptions{Namespace: ns, DatabaseFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Stop()
	if got := custom(tp.Address); !maps.Equal(got, want) {
		t.Fatalf("search attributes after the restart: %v, want %v", got, want)
	}
}
