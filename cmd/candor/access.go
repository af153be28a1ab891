package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

func runTokens(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("tokens: say create, list, revoke or rotate")
	}
	switch args[0] {
	case "create":
		return tokensCreate(ctx, args[1:])
	case "list":
		return tokensList(ctx, args[1:])
	case "revoke":
		return tokensRevoke(ctx, args[1:])
	case "rotate":
		return tokensRotate(ctx, args[1:])
	default:
		return usagef("tokens: unknown subcommand %q (create, list, revoke or rotate)", args[0])
	}
}

// expiresFlag reads --expires as a duration (90d, 36h), within
// store.MaxTokenTTL.
func expiresFlag(cmd, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := config.ParseDuration(v)
	if err != nil || d <= 0 || d > store.MaxTokenTTL {
		return 0, usagef("%s: --expires must be a duration from 1s to 366d, such as 90d", cmd)
	}
	return d, nil
}

func tokensCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokens create", flag.ContinueOnError)
	name := fs.String("name", "", "whose token it is, or what it is for (required)")
	role := fs.String("role", "", "auditor (any shop), merchant (one shop) or operator")
	shop := fs.String("shop", "", "the merchant's shop")
	expires := fs.String("expires", "90d", "how long the token works, at most 366d")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ttl, err := expiresFlag("tokens create", *expires)
	if err != nil {
		return err
	}
	spec := store.TokenSpec{Name: *name, Role: *role, Shop: *shop, TTL: ttl}
	if err := spec.Validate(); err != nil {
		return usagef("tokens create: %v", err)
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tok, t, err := db.CreateToken(ctx, spec)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	fmt.Fprintf(os.Stderr, "token %s (%s, %s) created for %q, expires %s. It is shown once; only its hash is stored.\n",
		t.ID, t.Role, t.Scope(), t.Name, t.ExpiresAt.Format(time.RFC3339))
	return nil
}

func tokensList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokens list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return printReview(ctx, *asJSON, false)
}

// tokenID takes the one positional argument of revoke and rotate.
func tokenID(fs *flag.FlagSet, args []string) (string, error) {
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(rest) != 1 || !strings.HasPrefix(rest[0], "tok_") {
		return "", usagef("%s: give one token ID (tok_…, as tokens list shows it)", fs.Name())
	}
	return rest[0], nil
}

func tokensRevoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokens revoke", flag.ContinueOnError)
	id, err := tokenID(fs, args)
	if err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeToken(ctx, id); err != nil {
		return fmt.Errorf("revoke %s: %w", id, err)
	}
	fmt.Fprintf(os.Stderr, "token %s revoked: it gets 401 from now on, and each attempt is recorded in the registry.\n", id)
	return nil
}

func tokensRotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokens rotate", flag.ContinueOnError)
	expires := fs.String("expires", "90d", "how long the new token works, at most 366d")
	id, err := tokenID(fs, args)
	if err != nil {
		return err
	}
	ttl, err := expiresFlag("tokens rotate", *expires)
	if err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tok, t, err := db.RotateToken(ctx, id, ttl)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", id, err)
	}
	fmt.Println(tok)
	fmt.Fprintf(os.Stderr, "token %s replaces %s (revoked now); expires %s. It is shown once.\n", t.ID, id, t.ExpiresAt.Format(time.RFC3339))
	return nil
}

func runAccess(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("access: say review or log")
	}
	switch args[0] {
	case "log":
		return accessLog(ctx, args[1:])
	case "review":
		fs := flag.NewFlagSet("access review", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		return printReview(ctx, *asJSON, true)
	default:
		return usagef("access: unknown subcommand %q (review or log)", args[0])
	}
}

// printReview prints every token with its flags; summary adds what needs a
// look, on stderr.
func printReview(ctx context.Context, asJSON, summary bool) error {
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	rs, err := db.AccessReview(ctx, now)
	if err != nil {
		return err
	}
	sessions, err := db.LiveSessions(ctx, now)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"at": now.UTC(), "principals": rs, "merchant_sessions": sessions})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tROLE\tSCOPE\tCREATED\tLAST USED\tEXPIRES\tFLAGS")
	day := func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02")
	}
	flagged := 0
	for _, r := range rs {
		if len(r.Flags) > 0 && r.RevokedAt == nil {
			flagged++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Role, r.Scope, day(&r.CreatedAt), day(r.LastUsedAt),
			day(&r.ExpiresAt), strings.Join(r.Flags, ","))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if summary && len(sessions) > 0 {
		fmt.Fprintln(w, "\nSHOP\tLIVE MERCHANT SESSIONS\tNEWEST")
		for _, s := range sessions {
			fmt.Fprintf(w, "%s\t%d\t%s\n", s.Shop, s.Live, s.Newest.UTC().Format("2006-01-02 15:04"))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if summary {
		fmt.Fprintf(os.Stderr, "%d principals; %d not revoked need a look (stale: unused %s; expiring: within %s). Revoke with candor tokens revoke ID.\n",
			len(rs), flagged, config.FormatDuration(store.StaleAfter), config.FormatDuration(store.ExpiringWithin))
	}
	return nil
}

// cliPrincipal names the person at the command line in the access log: the
// operating-system user (and who ran sudo, if anyone), on this host.
func cliPrincipal() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "uid " + strconv.Itoa(os.Getuid())
	}
	if s := os.Getenv("SUDO_USER"); s != "" && s != name {
		name += " (sudo by " + s + ")"
	}
	host, _ := os.Hostname()
	p := registry.PrincipalCLIPrefix + name
	if host != "" {
		p += " on " + host
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, p)
}

func accessLog(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("access log", flag.ContinueOnError)
	since := fs.String("since", "", "from this time (RFC 3339 or YYYY-MM-DD), or this long ago (30d, 12h); required")
	until := fs.String("until", "", "up to this time (RFC 3339 or YYYY-MM-DD); default now")
	principal := fs.String("principal", "", "only this principal (tok_…, session:…, cli:…)")
	asJSON := fs.Bool("json", false, "print JSON Lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	now := time.Now()
	if *since == "" {
		return usagef("access log: give --since (a time, or how long ago: 30d)")
	}
	from, err := timeOrAgo(*since, now)
	if err != nil {
		return usagef("access log: --since: %v", err)
	}
	var to time.Time
	if *until != "" {
		if to, err = timeOrAgo(*until, now); err != nil {
			return usagef("access log: --until: %v", err)
		}
		if !from.Before(to) {
			return usagef("access log: --since must be before --until")
		}
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	log, err := registry.AccessLog(ctx, db, from, to, *principal)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		for _, l := range log {
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(w, "AT\tPRINCIPAL\tREAD\tSHOP\tSUBJECT\tREF")
	for _, l := range log {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", l.At.UTC().Format(time.RFC3339), l.Principal, l.What, l.Shop, l.Subject, l.Ref)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d reads of personal data since %s.\n", len(log), from.UTC().Format(time.RFC3339))
	return nil
}

// timeOrAgo reads an RFC 3339 time, a date, or a duration before now.
func timeOrAgo(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	if d, err := config.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, YYYY-MM-DD) or a duration (30d)", v)
}
