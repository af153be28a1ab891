package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

func TestRegistryCheckpointCLI_AuditFindsARewriteAfterTheCheckpoint(t *testing.T) {
	db, _ := registryFixture(t)
	pub, err := capture(t, "registry", "pubkey")
	if err != nil {
		t.Fatal(err)
	}
	pub = strings.TrimSpace(pub)
	if out, err := capture(t, "registry", "checkpoint"); err != nil || !strings.Contains(out, `"seq":5`) {
		t.Fatalf("checkpoint: %v %s", err, out)
	}
	if _, err := capture(t, "registry", "checkpoints", "-o", "cp.jsonl"); err != nil {
		t.Fatal(err)
	}
	out, err := capture(t, "registry", "audit", "--pubkey", pub, "--checkpoints", "cp.jsonl")
	if err != nil || !strings.Contains(out, "intact: 1 signed heads from 1 checkpoints") {
		t.Fatalf("audit of an intact registry: %v %s", err, out)
	}
	// The owner rewrites entry 2 and every hash after it: the chain alone
	// still fits, the checkpoint does not.
	if _, err := db.Exec(`ALTER TABLE registry_entries DISABLE TRIGGER registry_entries_no_update;
		UPDATE registry_entries SET ref = 'rq_other' WHERE shop_seq = 2;
		ALTER TABLE registry_entries ENABLE TRIGGER registry_entries_no_update`); err != nil {
		t.Fatal(err)
	}
	rehash(t, db, "cli.myshopify.com")
	_, err = capture(t, "registry", "audit", "--pubkey", pub, "--checkpoints", "cp.jsonl")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "NOT INTACT") || !strings.Contains(err.Error(), "entry 5") {
		t.Fatalf("audit after the rewrite: %v, want exit 1 naming entry 5", err)
	}

	_ = os.WriteFile("junk.jsonl", []byte("{\"not\":\"a checkpoint\"}\n"), 0o644)
	if _, err := capture(t, "registry", "audit", "--pubkey", pub, "--checkpoints", "junk.jsonl"); !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("a file of junk: %v", err)
	}
	for _, args := range [][]string{
		{"registry", "audit", "--checkpoints", "cp.jsonl"},
		{"registry", "audit", "--pubkey", pub},
		{"registry", "audit", "--pubkey", "bm90IGEga2V5", "--checkpoints", "cp.jsonl"},
		{"registry", "checkpoints", "--since", "yesterday"},
	} {
		if _, err := capture(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// rehash recomputes every hash of shop's main chain, as someone rewriting
// the registry would, so that the chain on its own fits again.
func rehash(t *testing.T, db *store.DB, shop string) {
	t.Helper()
	var es []registry.Entry
	if err := db.Select(&es, `SELECT * FROM registry_entries WHERE shop = $1 AND chain = '' ORDER BY shop_seq`, shop); err != nil {
		t.Fatal(err)
	}
	prev := registry.GenesisHash
	tx := db.MustBegin()
	_, _ = tx.Exec(`ALTER TABLE registry_entries DISABLE TRIGGER registry_entries_no_update`)
	for _, e := range es {
		h := registry.ComputeHash(prev, e)
		if _, err := tx.Exec(`UPDATE registry_entries SET prev_hash = $1, hash = $2 WHERE seq = $3`, prev, h, e.Seq); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	_, _ = tx.Exec(`ALTER TABLE registry_entries ENABLE TRIGGER registry_entries_no_update`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if es, _ = registry.Entries(context.Background(), db, shop); registry.VerifyChain(es) != -1 {
		t.Fatal("the rehashed chain does not fit on its own")
	}
}
