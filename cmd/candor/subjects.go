package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// runSubjects shows the merchant the answer to a customer's data request
// (report) and the evidence of an erasure (receipt).
func runSubjects(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "report" && args[0] != "receipt") {
		return usagef("subjects: say report or receipt")
	}
	fs := flag.NewFlagSet("subjects "+args[0], flag.ContinueOnError)
	var ff filterFlags
	fs.StringVar(&ff.shop, "shop", "", "the shop")
	fs.StringVar(&ff.customerID, "customer-id", "", "the Shopify customer ID")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if ff.shop == "" || ff.customerID == "" {
		return usagef("subjects %s: give --shop and --customer-id", args[0])
	}
	f, customerID, err := ff.filter()
	if err != nil {
		return err
	}
	_, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	f = withKeys(f, customerID, ring)

	kind := store.KindDataRequest
	if args[0] == "receipt" {
		kind = store.KindCustomerRedact
	}
	what := registry.AccessReport
	if kind == store.KindCustomerRedact {
		what = registry.AccessReceipt
	}
	if err := registry.RecordAccess(ctx, db.DB, registry.Access{Principal: cliPrincipal(), What: what,
		Shops: []string{f.Shop}, Subject: f.Subject, Ref: registry.NewLookupID("sr")}, time.Now()); err != nil {
		return fmt.Errorf("record the lookup: %w", err)
	}
	reqs, err := db.SubjectRequests(ctx, f.Shop, f.Subject, kind)
	if err != nil {
		return err
	}
	if len(reqs) == 0 {
		return fmt.Errorf("no %s request for customer %d of %s (subject %s)", kind, customerID, f.Shop, f.Subject)
	}
	for _, r := range reqs {
		state := "in progress"
		if r.CompletedAt != nil {
			state = "completed " + r.CompletedAt.UTC().Format(time.RFC3339)
		}
		fmt.Printf("%s %s for subject %s at %s: received %s, %s\n", r.Kind, r.ID, f.Subject, f.Shop, r.ReceivedAt.UTC().Format(time.RFC3339), state)
		if kind == store.KindDataRequest {
			if r.Report == nil {
				fmt.Println("  (report not built yet)")
				continue
			}
			var pretty any
			_ = json.Unmarshal(r.Report, &pretty)
			b, _ := json.MarshalIndent(pretty, "  ", "  ")
			fmt.Printf("  %s\n", b)
			continue
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SYSTEM\tASKED\tVERIFIED\tWHEN")
		for _, rc := range r.Receipts {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", rc.System, rc.Asked, rc.Verified, rc.VerifiedAt.UTC().Format(time.RFC3339))
		}
		tw.Flush()
	}
	return nil
}
