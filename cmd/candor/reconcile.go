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
	var res workflows.ReconcileResult
	if err := runManual(ctx, "reconcile", workflows.Reconcile, *wait, &res, workflows.ReconcileInput{}); err != nil || !*wait {
		return err
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	if res.FailedShops > 0 {
		return fmt.Errorf("reconciliation failed for %d shop(s): %v", res.FailedShops, res.Failed)
	}
	return nil
}

// runManual starts a scheduled workflow now, under the ID
// {kind}/manual/{time}, with args; with wait it puts the result in res.
func runManual(ctx context.Context, kind string, wf any, wait bool, res any, args ...any) error {
	c, done, err := dialCLI(ctx)
	if err != nil {
		return err
	}
	defer done()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: kind + "/manual/" + time.Now().UTC().Format("20060102T150405.000"), TaskQueue: workflows.TaskQueue,
	}, wf, args...)
	if err != nil {
		return fmt.Errorf("start %s: %w", kind, err)
	}
	fmt.Fprintf(os.Stderr, "%s started: workflow %s\n", kind, run.GetID())
	if !wait {
		return nil
	}
	if err := run.Get(ctx, res); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return nil
}
