package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// exitError carries a specific exit status (verify exits 1 on tampering).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func runRegistry(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("registry: say export, verify, pubkey, trail, checkpoint, checkpoints or audit")
	}
	switch args[0] {
	case "export":
		return registryExport(ctx, args[1:])
	case "verify":
		return registryVerify(args[1:])
	case "pubkey":
		return registryPubkey(args[1:])
	case "trail":
		return registryTrail(ctx, args[1:])
	case "checkpoint":
		return registryCheckpoint(ctx, args[1:])
	case "checkpoints":
		return registryCheckpoints(ctx, args[1:])
	case "audit":
		return registryAudit(ctx, args[1:])
	}
	return usagef("registry: unknown subcommand %q (export, verify, pubkey, trail, checkpoint, checkpoints, audit)", args[0])
}

// ParseTime accepts RFC 3339 or a date (UTC midnight).
func parseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--%s %q is not a time (use 2026-01-31 or 2026-01-31T12:00:00Z)", name, v)
}

// filterFlags are the export and trail filters.
type filterFlags struct {
	shop, subject, since, until, customerID string
}

func (ff *filterFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&ff.shop, "shop", "", "only this shop")
	fs.StringVar(&ff.subject, "subject", "", "only this subject's entries (a sub_… pseudonym; needs --shop)")
	fs.StringVar(&ff.customerID, "customer-id", "", "only this Shopify customer's entries (needs --shop)")
	fs.StringVar(&ff.since, "since", "", "entries at or after this time")
	fs.StringVar(&ff.until, "until", "", "entries before this time")
}

// filter checks the flags before anything is opened, so mistakes exit 2.
// A customer ID becomes a subject later, with the key ring (withKeys).
func (ff *filterFlags) filter() (registry.Filter, int64, error) {
	f := registry.Filter{Shop: ff.shop, Subject: ff.subject}
	var err error
	if f.Since, err = parseTime("since", ff.since); err != nil {
		return f, 0, err
	}
	if f.Until, err = parseTime("until", ff.until); err != nil {
		return f, 0, err
	}
	if f.Shop != "" && !shopify.ValidShopDomain(f.Shop) {
		return f, 0, usagef("--shop %q is not a *.myshopify.com domain", f.Shop)
	}
	var id int64
	if ff.customerID != "" {
		if ff.subject != "" {
			return f, 0, usagef("give --subject or --customer-id, not both")
		}
		if id, err = strconv.ParseInt(ff.customerID, 10, 64); err != nil || id <= 0 {
			return f, 0, usagef("--customer-id must be a Shopify customer ID (a positive number)")
		}
		if f.Shop == "" {
			return f, 0, usagef("--customer-id needs --shop")
		}
		f.Subject = "sub_" // stands in until withKeys, so Validate sees a subject
	}
	if err := f.Validate(); err != nil {
		return f, 0, usagef("%v", err)
	}
	return f, id, nil
}

// withKeys turns a customer ID into the subject's pseudonym.
func withKeys(f registry.Filter, customerID int64, ring *keys.Ring) registry.Filter {
	if customerID != 0 {
		f.Subject = ring.Subject(f.Shop, customerID)
	}
	return f
}

func signerFor(ring *keys.Ring) registry.Signer { return registry.NewSigner(ring.SigningKey()) }

func registryExport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry export", flag.ContinueOnError)
	format := fs.String("format", "csv", "csv, jsonl or ropa")
	out := fs.String("o", "", "write to this file (and the signature to FILE.sig); default standard output")
	sigPath := fs.String("sig", "", "where to write the signature (default FILE.sig with -o)")
	var ff filterFlags
	ff.bind(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !registry.ValidFormat(*format) {
		return usagef("--format must be csv, jsonl or ropa, not %q", *format)
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
	w := io.Writer(os.Stdout)
	if *out != "" {
		file, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
		if *sigPath == "" {
			*sigPath = *out + ".sig"
		}
	}
	id := registry.NewExportID()
	shops, err := registry.ShopsInScope(ctx, db, f)
	if err != nil {
		return err
	}
	if err := registry.RecordAccess(ctx, db.DB, registry.Access{Principal: cliPrincipal(), What: registry.AccessExport,
		Shops: shops, Subject: f.Subject, Ref: id}, time.Now()); err != nil {
		return fmt.Errorf("record the export: %w", err)
	}
	if *format == registry.FormatROPA {
		return registry.ROPA(ctx, db, f, w, time.Now())
	}
	started := time.Now()
	progress := func(n int64) {
		if *out != "" {
			fmt.Fprintf(os.Stderr, "\rexported %d entries (%.0f/s)", n, float64(n)/time.Since(started).Seconds())
		}
	}
	signed, err := registry.Export(ctx, db.DB, w, *format, f, signerFor(ring), id, progress)
	if err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(os.Stderr, "\rexported %d entries (%d redacted) to %s in %s\n", signed.Manifest.Lines, signed.Manifest.Redacted, *out, time.Since(started).Round(time.Millisecond))
	}
	if *sigPath == "" {
		fmt.Fprintln(os.Stderr, "note: no signature file written (use -o FILE or --sig FILE); the export cannot be verified without it")
		return nil
	}
	b, _ := json.MarshalIndent(signed, "", "  ")
	if err := os.WriteFile(*sigPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(os.Stderr, "signature: %s (key %s)\n", *sigPath, signed.Manifest.KeyID)
	}
	return nil
}

// EnvRegistryPubkey pins the registry's public key for verify when
// --pubkey is not given.
const EnvRegistryPubkey = "CANDOR_REGISTRY_PUBKEY"

// errNoPinnedKey explains why verify needs the key from outside the export:
// the signature file carries a public key, but anyone who rewrites the file
// can re-sign it and put their own key there.
var errNoPinnedKey = usagef("registry verify: no public key pinned. Pass --pubkey K or set %s to the key the operator published "+
	"('candor registry pubkey', or GET /api/registry/pubkey); the key inside the signature file proves nothing, since whoever rewrote the export could re-sign it", EnvRegistryPubkey)

// parsePinnedKeys reads the pinned set: one or more base64 Ed25519 public
// keys, comma-separated (during a signing-key rotation, the new key and the
// old ones still trusted for old exports).
func parsePinnedKeys(v string) ([]ed25519.PublicKey, error) {
	var pinned []ed25519.PublicKey
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(part)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, usagef("registry verify: pinned key %d is not a base64 Ed25519 public key", i+1)
		}
		pinned = append(pinned, k)
	}
	if len(pinned) == 0 {
		return nil, errNoPinnedKey
	}
	return pinned, nil
}

func registryVerify(args []string) error {
	fs := flag.NewFlagSet("registry verify", flag.ContinueOnError)
	sigPath := fs.String("sig", "", "the signature file (default FILE.sig)")
	pubkey := fs.String("pubkey", "", "the registry's public key(s) (base64, from 'candor registry pubkey'; several comma-separated); default $"+EnvRegistryPubkey)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("registry verify: give one export file: candor registry verify --pubkey K FILE")
	}
	path := files[0]
	if *pubkey == "" {
		*pubkey = os.Getenv(EnvRegistryPubkey)
	}
	if strings.TrimSpace(*pubkey) == "" {
		return errNoPinnedKey
	}
	pinned, err := parsePinnedKeys(*pubkey)
	if err != nil {
		return err
	}
	if *sigPath == "" {
		*sigPath = path + ".sig"
	}
	sb, err := os.ReadFile(*sigPath)
	if err != nil {
		return exitError{1, fmt.Sprintf("%s: cannot read the signature file %s: without it the export cannot be verified", path, *sigPath)}
	}
	var signed registry.Signed
	if err := json.Unmarshal(sb, &signed); err != nil {
		return exitError{1, fmt.Sprintf("%s: the signature file is not valid JSON", *sigPath)}
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	started := time.Now()
	rep, err := registry.VerifyPinned(file, &signed, pinned)
	if err != nil {
		var f *registry.Finding
		if errors.As(err, &f) {
			return exitError{1, fmt.Sprintf("%s: NOT INTACT: %v", path, f)}
		}
		return err
	}
	fmt.Printf("%s: intact. %d entries (%d redacted) in %d chains of %d shops, signed by key %s (%s), checked in %s.\n",
		path, rep.Entries, rep.Redacted, rep.Chains, rep.Shops, rep.SignatureKeyID, rep.SignedBy, time.Since(started).Round(time.Millisecond))
	return nil
}

func registryPubkey(args []string) error {
	fs := flag.NewFlagSet("registry pubkey", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// The signing key is an identity key, kept in Postgres across rotations.
	_, ring, db, err := openWithKeys(context.Background())
	if err != nil {
		return err
	}
	defer db.Close()
	signer := signerFor(ring)
	fmt.Println(signer.PublicKey())
	fmt.Fprintf(os.Stderr, "key %s\n", signer.KeyID)
	return nil
}

func registryTrail(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry trail", flag.ContinueOnError)
	var ff filterFlags
	fs.StringVar(&ff.shop, "shop", "", "the shop")
	fs.StringVar(&ff.customerID, "customer-id", "", "the Shopify customer ID")
	fs.StringVar(&ff.subject, "subject", "", "or the subject's pseudonym (sub_…)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if ff.customerID == "" && ff.subject == "" {
		return usagef("registry trail: give --shop and --customer-id")
	}
	f, customerID, err := ff.filter()
	if err != nil {
		return err
	}
	if f.Shop == "" {
		return usagef("registry trail: --shop is required")
	}
	_, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	f = withKeys(f, customerID, ring)
	tr, err := lookupTrail(ctx, db, f.Shop, f.Subject)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(tr)
	}
	printTrail(os.Stdout, tr)
	return nil
}

// lookupTrail records the lookup, then answers it.
func lookupTrail(ctx context.Context, db *store.DB, shop, subject string) (registry.Trail, error) {
	now := time.Now()
	if err := registry.RecordAccess(ctx, db.DB, registry.Access{Principal: cliPrincipal(), What: registry.AccessTrail,
		Shops: []string{shop}, Subject: subject, Ref: registry.NewLookupID("tr")}, now); err != nil {
		return registry.Trail{}, fmt.Errorf("record the lookup: %w", err)
	}
	return registry.SubjectTrail(ctx, db, shop, subject, now)
}

func printTrail(w io.Writer, tr registry.Trail) {
	fmt.Fprintf(w, "Trail of %s at %s (as of %s): %d registry entries.\n\n", tr.Subject, tr.Shop, tr.AsOf.Format(time.RFC3339), tr.Entries)
	if len(tr.Rows) == 0 {
		fmt.Fprintln(w, "Nothing is recorded for this customer.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATUM\tSYSTEM\tROLE\tACTIONS\tRECIPIENT\tFIRST\tLAST\tKEPT UNTIL\tSTATE")
	for _, r := range tr.Rows {
		state := "held"
		if r.Deleted {
			state = "gone"
		}
		recipient := ""
		if r.Recipient {
			recipient = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Datum, r.System, r.Role, strings.Join(r.Actions, ","), recipient,
			r.First.Format("2006-01-02 15:04"), r.Last.Format("2006-01-02 15:04"), r.ExpiresAt.Format("2006-01-02"), state)
	}
	tw.Flush()
}
