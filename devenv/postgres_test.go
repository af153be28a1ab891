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

// RecreateDatabase is candor dev starting over: the database comes back
// empty, even while a connection to it is open.
func TestRecreateDatabase_EmptiesTheDatabase(t *testing.T) {
	ctx := context.Background()
	server := LocalServerURL
	if u := os.Getenv("DATABASE_URL"); u != "" {
		server = u
	}
	name := "candor_devenv_recreate_test"
	u, err := EnsureDatabase(ctx, server, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if db, err := sqlx.Open("postgres", server); err == nil {
			_, _ = db.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
			db.Close()
		}
	})
	held, err := sqlx.Connect("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.Exec(`CREATE TABLE leftover (x int)`); err != nil {
		t.Fatal(err)
	}
	if u, err = RecreateDatabase(ctx, server, name); err != nil {
		t.Fatal(err)
	}
	db, err := sqlx.Connect("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'`); err != nil || n != 0 {
		t.Fatalf("after recreate: %d leftover tables, %v", n, err)
	}
}
