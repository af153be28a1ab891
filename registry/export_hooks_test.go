package registry

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jmoiron/sqlx"
)

// ExplainExport runs the query Export would run for f under EXPLAIN
// ANALYZE and returns the plan. Scans that read a whole small table are
// turned off, so the plan is the one Postgres picks for a large registry.
func ExplainExport(ctx context.Context, t testing.TB, db *sqlx.DB, f Filter) string {
	t.Helper()
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	segs, err := segments(ctx, tx, f)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, quoted, _, err := segmentBounds(ctx, tx, segs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off`); err != nil {
		t.Fatal(err)
	}
	var lines []string
	if err := tx.SelectContext(ctx, &lines, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) `+exportQuery(lo, hi, quoted)); err != nil {
		t.Fatal(err)
	}
	plan := ""
	for _, l := range lines {
		plan += l + "\n"
	}
	return plan
}
