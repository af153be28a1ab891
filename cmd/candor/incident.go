package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/registry"
)

func runIncident(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "impact" {
		return usagef("incident: say impact")
	}
	fs := flag.NewFlagSet("incident impact", flag.ContinueOnError)
	system := fs.String("system", "", "the system breached: "+systemKeys())
	since := fs.String("since", "", "the window's start (RFC 3339 or YYYY-MM-DD); required")
	until := fs.String("until", "", "the window's end, exclusive (default now)")
	shop := fs.String("shop", "", "only this shop")
	asJSON := fs.Bool("json", false, "print JSON")
	drafts := fs.String("drafts", "", "write a draft notification per shop (GDPR Art. 33(3), LGPD Art. 48) into this directory")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if !registry.KnownSystem(*system) {
		return usagef("incident impact: --system must be one of %s", systemKeys())
	}
	if *since == "" {
		return usagef("incident impact: give --since (when the breach may have begun)")
	}
	from, err := parseTime("since", *since)
	if err != nil {
		return err
	}
	to := time.Now()
	if *until != "" {
		if to, err = parseTime("until", *until); err != nil {
			return err
		}
	}
	if !from.Before(to) {
		return usagef("incident impact: --since must be before --until")
	}
	if *shop != "" && !shopify.ValidShopDomain(*shop) {
		return usagef("incident impact: --shop must be a *.myshopify.com domain")
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	im, err := registry.IncidentImpact(ctx, db, *system, *shop, from, to)
	if err != nil {
		return err
	}
	// The answer holds order names (purchase history): recorded as a read
	// by this person, per shop, before any of it is shown.
	now := time.Now()
	ref := registry.NewLookupID("ii")
	var es []registry.Entry
	for _, s := range im.Shops() {
		es = append(es, registry.Entry{Shop: s, Datum: registry.DatumPurchaseHistory, System: registry.SystemPostgres,
			Action: registry.ActionRead, Purpose: registry.PurposeAudit, LegalBasis: registry.BasisLegalObligation, ExpiresAt: now, Ref: ref})
	}
	if len(es) > 0 {
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			return registry.AppendAccess(ctx, tx, cliPrincipal(), registry.AccessImpact, now, es...)
		}); err != nil {
			return fmt.Errorf("record the lookup: %w", err)
		}
	}
	if *drafts != "" {
		if err := os.MkdirAll(*drafts, 0o700); err != nil {
			return err
		}
		for _, s := range im.Shops() {
			p := filepath.Join(*drafts, "breach-notification-"+s+".md")
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			err = registry.DraftNotification(f, im, s, now)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", p, err)
			}
			fmt.Fprintf(os.Stderr, "draft notification: %s\n", p)
		}
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(im)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "SHOP\tSUBJECT\tORDERS\tCATEGORIES\tRECORDS")
	for _, s := range im.Subjects {
		subject := s.Subject
		if subject == "" {
			subject = "(unidentified: " + strings.Join(s.Refs, ",") + ")"
		}
		orders := strings.Join(s.OrderNames, ",")
		if orders == "" {
			orders = "no longer held"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", s.Shop, subject, orders, strings.Join(s.Categories, ","), s.Records)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s, %s to %s: %d subjects in %d shops, %d records.\n", *system,
		from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), len(im.Subjects), len(im.Shops()), im.Records)
	return nil
}

func systemKeys() string {
	var ks []string
	for _, s := range registry.Systems {
		ks = append(ks, s.Key)
	}
	return strings.Join(ks, ", ")
}
