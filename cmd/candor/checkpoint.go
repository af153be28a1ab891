package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/registry"
)

// registryCheckpoint is `candor registry checkpoint`: sign the chain heads
// now, as the hourly schedule does, and print the checkpoint.
func registryCheckpoint(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry checkpoint", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	signer, err := datakeys.Signer(ctx, db, ring)
	if err != nil {
		return err
	}
	cp, err := registry.MakeCheckpoint(ctx, db.DB, signer, time.Now())
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(cp)
}

// registryCheckpoints is `candor registry checkpoints [--since T] [-o FILE]`:
// the signed checkpoints as JSON Lines, to keep apart from the database.
func registryCheckpoints(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry checkpoints", flag.ContinueOnError)
	since := fs.String("since", "", "only checkpoints from this time (RFC 3339 or YYYY-MM-DD)")
	out := fs.String("o", "", "write to this file (default stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	from, err := parseTime("since", *since)
	if err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	cps, err := registry.Checkpoints(ctx, db, from)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	for _, cp := range cps {
		if err := enc.Encode(cp); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "%d checkpoints.\n", len(cps))
	return nil
}

// registryAudit is `candor registry audit --pubkey K --checkpoints FILE`:
// the live database against checkpoints kept elsewhere. Exit 0 only if
// every chain still reaches every signed head; 1 naming the first entry
// that does not.
func registryAudit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry audit", flag.ContinueOnError)
	pubkey := fs.String("pubkey", "", "the registry's public key (base64); default $"+EnvRegistryPubkey)
	file := fs.String("checkpoints", "", "the checkpoints, as JSON Lines (registry checkpoints -o, or the endpoint's answer); required")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pubkey == "" {
		*pubkey = os.Getenv(EnvRegistryPubkey)
	}
	if strings.TrimSpace(*pubkey) == "" {
		return errNoPinnedKey
	}
	pinned, err := parsePinnedKeys(*pubkey)
	if err != nil {
		return usagef("registry audit: %v", err)
	}
	if *file == "" {
		return usagef("registry audit: give --checkpoints FILE (kept apart from the database)")
	}
	cps, err := readCheckpoints(*file)
	if err != nil {
		return exitError{1, fmt.Sprintf("%s: %v", *file, err)}
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := registry.VerifyCheckpoints(ctx, db.DB, cps, pinned...)
	var te *registry.TamperError
	if errors.As(err, &te) {
		return exitError{1, "NOT INTACT: " + te.Error()}
	}
	if err != nil {
		return exitError{1, err.Error()}
	}
	fmt.Printf("intact: %d signed heads from %d checkpoints reached\n", n, len(cps))
	return nil
}

// readCheckpoints reads JSON Lines of signed checkpoints, or the
// endpoint's {"checkpoints": […]}.
func readCheckpoints(path string) ([]registry.SignedCheckpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wrapped struct {
		Checkpoints []registry.SignedCheckpoint `json:"checkpoints"`
	}
	if json.Unmarshal(b, &wrapped) == nil && wrapped.Checkpoints != nil {
		return wrapped.Checkpoints, nil
	}
	var out []registry.SignedCheckpoint
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var cp registry.SignedCheckpoint
		if err := json.Unmarshal(sc.Bytes(), &cp); err != nil || cp.Signature == "" {
			return nil, fmt.Errorf("line %d is not a signed checkpoint", line)
		}
		out = append(out, cp)
	}
	if len(out) == 0 {
		return nil, errors.New("no checkpoints in the file")
	}
	return out, sc.Err()
}
