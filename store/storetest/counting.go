package storetest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	neturl "net/url"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/candorhq/candor/store"
)

// Counting opens another pool on db's database whose connections count the
// statements they send (each QueryContext or ExecContext, one round trip to
// Postgres; BEGIN and COMMIT are not counted). It is closed when the test
// ends.
func Counting(tb testing.TB, db *store.DB) (*store.DB, *atomic.Int64) {
	tb.Helper()
	var name string
	if err := db.Get(&name, `SELECT current_database()`); err != nil {
		tb.Fatal(err)
	}
	u, err := neturl.Parse(ServerURL())
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	c, err := pq.NewConnector(u.String())
	if err != nil {
		tb.Fatal(err)
	}
	n := &atomic.Int64{}
	out := &store.DB{DB: sqlx.NewDb(sql.OpenDB(countingConnector{c, n}), "postgres")}
	tb.Cleanup(func() { out.Close() })
	return out, n
}

type countingConnector struct {
	driver.Connector
	n *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{conn, c.n}, nil
}

// countingConn is a lib/pq connection that counts its statements.
type countingConn struct {
	driver.Conn
	n *atomic.Int64
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}
