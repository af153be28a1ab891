package prod

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/candorhq/candor/prodenv"
	"github.com/candorhq/candor/review"
)

// On a namespace without Candor's search attributes, serve and worker stop
// at once with one line that names the command to run, rather than
// answering every webhook with a refused start.
func TestSearchAttributesMissing_ServeAndWorkerStopWithTheCommandToRun(t *testing.T) {
	d := deploy(t, 0, 0)
	ctx := context.Background()
	bare := fmt.Sprintf("bare-%d", time.Now().UnixNano())
	nc, err := client.NewNamespaceClient(client.Options{HostPort: temporal.Address})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: bare,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tc, err := client.Dial(client.Options{HostPort: temporal.Address, Namespace: bare})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	waitNamespace(t, tc, bare)

	ports, err := prodenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	c := prodenv.Candor{Bin: d.candor.Bin, Env: append(append([]string{}, d.candor.Env...),
		"TEMPORAL_NAMESPACE="+bare, fmt.Sprintf("CANDOR_HTTP_ADDR=127.0.0.1:%d", ports[0]))}
	want := review.SearchAttributeCreateCommand(bare)
	for _, cmd := range []string{"worker", "serve"} {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // one that starts would run for ever
		out, err := c.Run(rctx, cmd)
		cancel()
		if err == nil {
			t.Fatalf("candor %s started on a namespace without the search attributes:\n%s", cmd, out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("candor %s says:\n%s\nwant the command: %s", cmd, out, want)
		}
	}
}
