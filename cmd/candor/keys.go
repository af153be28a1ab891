package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/keys"
)

func runKeys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("keys: want rotate, rotate-login, rotate-signing or status")
	}
	switch args[0] {
	case "rotate":
		return keysRotate(ctx, args[1:])
	case "rotate-login":
		return keysRotateOne(ctx, "keys rotate-login", keys.PurposeLogin, args[1:])
	case "rotate-signing":
		return keysRotateOne(ctx, "keys rotate-signing", keys.PurposeSigning, args[1:])
	case "status":
		return keysStatus(ctx, args[1:])
	default:
		return usagef("keys: unknown subcommand %q (want rotate, rotate-login, rotate-signing or status)", args[0])
	}
}

// keysRotateOne replaces the login-link key or the registry signing key
// with a new random one (keys/rotating.go). Every serve replica uses it from
// its next login or export on.
func keysRotateOne(ctx context.Context, name, purpose string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: takes no arguments", name)
	}
	_, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	old := ring.LoginKeyID()
	if purpose == keys.PurposeSigning {
		old = ring.SigningKeyID()
	}
	id, pub, err := datakeys.RotateKey(ctx, db, ring, purpose)
	if err != nil {
		return err
	}
	fmt.Printf("%s key: %s replaces %s\n", purpose, id, old)
	switch purpose {
	case keys.PurposeLogin:
		fmt.Println("login links made with the old key no longer open; sessions already started go on")
	case keys.PurposeSigning:
		fmt.Printf("new public key: %s\n", pub)
		fmt.Printf("publish it and pin it with the keys you still trust for older exports: %s=NEW,OLD (drop OLD if it may be stolen)\n", EnvRegistryPubkey)
	}
	return nil
}

// keysRotate moves everything sealed under an old master key to the new
// one: CANDOR_MASTER_KEY is the new key, CANDOR_MASTER_KEY_PREVIOUS the old.
func keysRotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	batch := fs.Int("batch", 1000, "values re-sealed per transaction")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 100_000 {
		return usagef("keys rotate: --batch must be between 1 and 100000")
	}
	cfg, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(os.Stderr, "re-sealing under master key %s (holding %s)\n", ring.KeyID(), strings.Join(ring.KeyIDs(), ", "))
	res, err := datakeys.Rotate(ctx, db, ring, *batch, func(what string, n int) {
		fmt.Fprintf(os.Stderr, "  %s: %d\n", what, n)
	})
	if errors.Is(err, datakeys.ErrUnknownKey) {
		return fmt.Errorf("rotation stopped (what was done is kept; run it again once fixed): %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Printf("re-sealed: %d data keys, %d secrets, %d identity\n", res.DataKeys, res.Sealed, res.Identity)
	left := 0
	for what, n := range res.Left {
		fmt.Printf("still under another key: %d %s\n", n, what)
		left += n
	}
	if left > 0 {
		return errors.New("rotation incomplete: run it again")
	}
	if len(cfg.MasterKeyPrevious) > 0 {
		fmt.Println("everything is under the new key: CANDOR_MASTER_KEY_PREVIOUS can be removed once every process runs with the new key")
	}
	return nil
}

func keysStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("keys status", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	us, err := datakeys.KeyUse(ctx, db)
	if err != nil {
		return err
	}
	fmt.Printf("current master key %s\n", ring.KeyID())
	for _, u := range us {
		mark := ""
		if u.KeyID != ring.KeyID() {
			mark = "  (old key: run candor keys rotate)"
		}
		fmt.Printf("%-20s key %-8s %d%s\n", u.What, u.KeyID, u.Count, mark)
	}
	return nil
}
