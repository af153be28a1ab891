package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the postgres driver
)

// ErrNoPostgres means no server answered and no PostgreSQL binaries were
// found to start one.
var ErrNoPostgres = errors.New(`no PostgreSQL found. Candor needs one of:
  - DATABASE_URL pointing at a server (e.g. postgres://user@host:5432/db?sslmode=disable)
  - a server on 127.0.0.1:5432 that lets user "postgres" in without a password
  - the PostgreSQL binaries installed (Debian/Ubuntu: apt install postgresql; macOS: brew install postgresql),
    so candor dev can run a private cluster under .candor/`)

// LocalServerURL is the server candor dev tries second.
const LocalServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3"

// EnsureDatabase connects to serverURL and creates database name if missing,
// returning the URL of that database.
func EnsureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	db, err := sqlx.Open("postgres", serverURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return "", err
	}
	var exists bool
	if err := db.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", err
	}
	if !exists {
		if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// RecreateDatabase drops database name on the server (ending its
// connections) and creates it empty: a dev sandbox starting over.
func RecreateDatabase(ctx context.Context, serverURL, name string) (string, error) {
	db, err := sqlx.Open("postgres", serverURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		return "", fmt.Errorf("drop database %s: %w", name, err)
	}
	return EnsureDatabase(ctx, serverURL, name)
}

// Cluster is a private PostgreSQL cluster started from the local binaries.
type Cluster struct {
	URL     string // server URL (database "postgres")
	dataDir string
	bin     string
	asUser  string
}

// findBinDir locates initdb and pg_ctl: pg_config's bindir, the Debian
// layout, or PATH.
func findBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// StartCluster initialises (first time) and starts a cluster in dir,
// listening only on 127.0.0.1:port over TCP. PostgreSQL refuses to run as
// root, so as root it runs as the "postgres" user, which then owns dir.
func StartCluster(ctx context.Context, dir string, port int) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dataDir: filepath.Join(dir, "pgdata"), bin: bin,
		URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=3", port)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.New("PostgreSQL will not run as root, and there is no 'postgres' user to run it as: run candor dev as a normal user or set DATABASE_URL")
		}
		c.asUser = u.Username
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := chownTree(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if out, err := c.run(ctx, "initdb", "-D", c.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-instructions"); err != nil {
			return nil, fmt.Errorf("initdb: %v: %s", err, lastLine(out))
		}
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("port %d for the private PostgreSQL is taken: %w", port, err)
	}
	ln.Close()
	// max_connections: each Candor process pools up to 32 connections, and
	// the production-topology tests run four of them and a Temporal server
	// on one cluster; PostgreSQL's default of 100 ran out there.
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300", port)
	if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir, "-l", filepath.Join(dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return nil, fmt.Errorf("start private PostgreSQL (log: %s): %v: %s", filepath.Join(dir, "postgres.log"), err, lastLine(out))
	}
	return c, nil
}

// Stop stops the cluster, waiting for a clean shutdown.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("stop private PostgreSQL: %v: %s", err, lastLine(out))
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
