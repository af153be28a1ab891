package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/workflows"
)

func runRetention(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("retention: say run, policies, set or clear")
	}
	switch args[0] {
	case "policies":
		return retentionPolicies(ctx, args[1:])
	case "set", "clear":
		return retentionOverride(ctx, args[0], args[1:])
	case "run":
		return retentionRun(ctx, args[1:])
	}
	return usagef("retention: unknown subcommand %q (run, policies, set, clear)", args[0])
}

// retentionPolicies prints the defaults or, with --shop, the shop's
// effective policies.
func retentionPolicies(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retention policies", flag.ContinueOnError)
	shop := fs.String("shop", "", "print this shop's effective policies (default and override)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var ov retention.Overrides
	if *shop != "" {
		if !shopify.ValidShopDomain(*shop) {
			return usagef("retention policies: --shop %q is not a *.myshopify.com domain", *shop)
		}
		db, err := openDB(ctx)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.Shop(ctx, *shop); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("shop %s is not connected", *shop)
		} else if err != nil {
			return err
		}
		if ov, err = db.Overrides(ctx, *shop); err != nil {
			return err
		}
	}
	printPolicies(os.Stdout, ov, *shop != "")
	return nil
}

func printPolicies(w io.Writer, ov retention.Overrides, forShop bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if forShop {
		fmt.Fprintln(tw, "POLICY\tSYSTEM\tKEPT\tDEFAULT\tOVERRIDE\tSHOP MAY SET\tDATA")
	} else {
		fmt.Fprintln(tw, "POLICY\tSYSTEM\tKEPT\tSHOP MAY SET\tDATA\tWHY")
	}
	for _, p := range retention.Policies {
		kept := retention.Human(p.Keep)
		if p.Keep == 0 {
			kept = "until an event"
		}
		bounds := "no (same for every shop)"
		if p.Overridable() {
			bounds = retention.Human(p.Min) + " to " + retention.Human(p.Max)
		}
		if !forShop {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Key, p.System, kept, bounds, p.What, p.Why)
			continue
		}
		override := "-"
		if d, ok := ov[p.Key]; ok {
			override, kept = retention.Human(d), retention.Human(d)
		}
		def := retention.Human(p.Keep)
		if p.Keep == 0 {
			def = "until an event"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Key, p.System, kept, def, override, bounds, p.What)
	}
	_ = tw.Flush()
}

// retentionOverride sets or clears one shop's period for one policy.
func retentionOverride(ctx context.Context, verb string, args []string) error {
	fs := flag.NewFlagSet("retention "+verb, flag.ContinueOnError)
	shop := fs.String("shop", "", "the shop (*.myshopify.com)")
	policy := fs.String("policy", "", "the policy key (see candor retention policies)")
	keep := ""
	if verb == "set" {
		fs.StringVar(&keep, "keep", "", "how long to keep, e.g. 90d, 36h")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !shopify.ValidShopDomain(*shop) {
		return usagef("retention %s: --shop must be a *.myshopify.com domain", verb)
	}
	if *policy == "" {
		return usagef("retention %s: --policy is required (see candor retention policies)", verb)
	}
	var d time.Duration
	if verb == "set" {
		if keep == "" {
			return usagef("retention set: --keep is required, e.g. --keep 90d")
		}
		var err error
		if d, err = config.ParseDuration(keep); err != nil {
			return usagef("retention set: --keep: %v", err)
		}
		if err := retention.Check(*policy, d); err != nil {
			return usagef("retention set: %v", err)
		}
	} else if _, ok := retention.Find(*policy); !ok {
		return usagef("retention clear: %v", retention.Check(*policy, 0))
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if verb == "set" {
		err = db.SetOverride(ctx, *shop, *policy, d)
	} else {
		var had bool
		had, err = db.ClearOverride(ctx, *shop, *policy)
		if err == nil && !had {
			fmt.Fprintf(os.Stderr, "%s had no override for %s; nothing changed\n", *shop, *policy)
		}
	}
	var wait *retention.WaitError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("shop %s is not connected", *shop)
	case errors.As(err, &wait):
		return fmt.Errorf("retention %s: %w (candor shops set changes the timing)", verb, err)
	case err != nil:
		return err
	}
	ov, err := db.Overrides(ctx, *shop)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s is kept %s\n", *shop, *policy, retention.Human(ov.Keep(*policy)))
	return nil
}

func retentionRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	wait := fs.Bool("wait", false, "wait for the sweep and print what it deleted and verified, per policy")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var res activities.SweepResult
	if err := runManual(ctx, "retention", workflows.Retention, *wait, &res, workflows.RetentionInput{}); err != nil || !*wait {
		return err
	}
	printSweep(os.Stdout, res)
	return nil
}

func printSweep(w io.Writer, res activities.SweepResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tSYSTEM\tDELETED\tVERIFIED")
	for _, p := range res.Policies {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", p.Policy, p.System, p.Deleted, p.Verified)
	}
	_ = tw.Flush()
	for _, p := range res.Policies {
		for _, n := range p.Notes {
			fmt.Fprintf(w, "not done (%s): %s\n", p.Policy, n)
		}
	}
}
