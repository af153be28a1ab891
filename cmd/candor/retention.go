package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/workflows"
)

func runRetention(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("retention: say run or policies")
	}
	switch args[0] {
	case "policies":
		fs := flag.NewFlagSet("retention policies", flag.ContinueOnError)
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DATA\tSYSTEM\tKEPT\tWHY")
		for _, p := range retention.Policies {
			kept := human(p.Keep)
			if p.Keep == 0 {
				kept = "until an event"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.What, p.System, kept, p.Why)
		}
		return tw.Flush()
	case "run":
		fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
		wait := fs.Bool("wait", false, "wait for the sweep and print what it deleted")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		c, done, err := dialCLI(ctx)
		if err != nil {
			return err
		}
		defer done()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "retention/manual/" + time.Now().UTC().Format("20060102T150405.000"), TaskQueue: workflows.TaskQueue,
		}, workflows.Retention)
		if err != nil {
			return fmt.Errorf("start the sweep: %w", err)
		}
		fmt.Fprintf(os.Stderr, "sweep started: workflow %s\n", run.GetID())
		if !*wait {
			return nil
		}
		var res activities.SweepResult
		if err := run.Get(ctx, &res); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	return usagef("retention: unknown subcommand %q (run, policies)", args[0])
}
