package devenv

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
)

// TestStartCluster_PrivateClusterFromLocalBinaries is the path candor dev
// takes when no server answers: initdb, start, connect, stop, restart.
func TestStartCluster_PrivateClusterFromLocalBinaries(t *testing.T) {
	dir, err := os.MkdirTemp("", "candor-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// As root the cluster runs as "postgres", which must reach the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ctx := context.Background()
	for round := 0; round < 2; round++ { // the second start reuses the data
		c, err := StartCluster(ctx, filepath.Join(dir, "pg"), port)
		if err != nil {
			t.Fatal(err)
		}
		url, err := EnsureDatabase(ctx, c.URL, "candor_dev")
		if err != nil {
			c.Stop()
			t.Fatal(err)
		}
		db, err := sqlx.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		var one int
		err = db.Get(&one, `SELECT 1`)
		db.Close()
		if err != nil || one != 1 {
			t.Fatalf("query private cluster: %v", err)
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "pgdata", "PG_VERSION")); err != nil {
		t.Fatalf("no data directory: %v", err)
	}
}
