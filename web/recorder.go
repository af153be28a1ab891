package web

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// recorder group-commits webhook deliveries: each delivery's dedupe row and
// registry entries are written in one transaction, and deliveries that
// arrive while a transaction is committing share the next one. Every caller
// still waits for its own rows to be durable before Shopify gets a 200; under
// load a single head lock and a single WAL flush serve many deliveries.
//
// webhook_deliveries is the durable half of webhook-ID dedupe: a delivery
// whose ID is already there was recorded by an earlier attempt (whose
// answer Shopify did not get), so its entries are not written again.
type recorder struct {
	db   *store.DB
	now  func() time.Time
	once sync.Once
	in   chan *pending
}

type pending struct {
	webhookID, shop, topic string
	entries                []registry.Entry
	// once are touches that happen once per ref, whichever delivery made
	// them: appended unless the registry already holds them (the workflow
	// input a start stored in Temporal, which a retry must record if the
	// attempt that started it could not).
	once []registry.Entry
	done chan error
}

// maxBatch bounds one transaction.
const maxBatch = 256

func (r *recorder) record(ctx context.Context, p *pending) error {
	r.once.Do(func() {
		r.in = make(chan *pending, 4*maxBatch)
		go r.loop()
	})
	p.done = make(chan error, 1)
	select {
	case r.in <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The batch may still commit; Shopify's retry is then a duplicate.
		return ctx.Err()
	}
}

func (r *recorder) loop() {
	batch := make([]*pending, 0, maxBatch)
	for first := range r.in {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case p := <-r.in:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		err := r.commit(batch)
		for _, p := range batch {
			p.done <- err
		}
	}
}

func (r *recorder) commit(batch []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var q strings.Builder
	args := make([]any, 0, 3*len(batch))
	q.WriteString(`INSERT INTO webhook_deliveries (webhook_id, shop, topic) VALUES `)
	for i, p := range batch {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "($%d,$%d,$%d)", 3*i+1, 3*i+2, 3*i+3)
		args = append(args, p.webhookID, p.shop, p.topic)
	}
	q.WriteString(` ON CONFLICT DO NOTHING RETURNING webhook_id`)
	return r.db.InTx(ctx, func(tx *sqlx.Tx) error {
		var added []string
		if err := tx.SelectContext(ctx, &added, q.String(), args...); err != nil {
			return fmt.Errorf("record deliveries: %w", err)
		}
		isNew := make(map[string]bool, len(added))
		for _, id := range added {
			isNew[id] = true
		}
		var entries, once []registry.Entry
		for _, p := range batch {
			if !isNew[p.webhookID] {
				continue // recorded by an earlier attempt, or by another in this batch
			}
			isNew[p.webhookID] = false
			entries = append(entries, p.entries...)
			once = append(once, p.once...)
		}
		if len(entries) == 0 && len(once) == 0 {
			return nil
		}
		_, err := registry.AppendWithOnce(ctx, tx, r.now(), entries, once)
		return err
	})
}
