package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/workflows"
)

// runReconcile is `candor reconcile run [--wait]`: the reconciliation the
// candor-reconcile schedule runs daily, now.
func runReconcile(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "run" {
		return usagef("reconcile: say run")
	}
	fs := flag.NewFlagSet("reconcile run", flag.ContinueOnError)
	wait := fs.Bool("wait", false, "wait for it and print what it repaired and started")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	c, done, err := dialCLI(ctx)
	if err != nil {
		return err
	}
	defer done()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "reconcile/manual/" + time.Now().UTC().Format("20060102T150405.000"), TaskQueue: workflows.TaskQueue,
	}, workflows.Reconcile)
	if err != nil {
		return fmt.Errorf("start reconciliation: %w", err)
	}
	fmt.Fprintf(os.Stderr, "reconciliation started: workflow %s\n", run.GetID())
	if !*wait {
		return nil
	}
	var res workflows.ReconcileResult
	if err := run.Get(ctx, &res); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	if len(res.Failed) > 0 {
		return fmt.Errorf("reconciliation failed for %d shop(s): %v", len(res.Failed), res.Failed)
	}
	return nil
}
