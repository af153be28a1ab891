package web

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/candorhq/candor/store"
)

// shopCache keeps shop rows (and the absence of one) for a few seconds, so
// webhook intake does not read Postgres before every Temporal start. A
// settings change or a disconnect takes effect within shopTTL; the workflow's
// first activity reads the shop again in any case.
type shopCache struct {
	mu sync.Mutex
	m  map[string]cachedShop
}

type cachedShop struct {
	shop  store.Shop
	found bool
	at    time.Time
}

const shopTTL = 5 * time.Second

func (c *shopCache) get(ctx context.Context, db *store.DB, domain string, now time.Time) (store.Shop, bool, error) {
	c.mu.Lock()
	e, ok := c.m[domain]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < shopTTL {
		return e.shop, e.found, nil
	}
	sh, err := db.Shop(ctx, domain)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Shop{}, false, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedShop{}
	}
	c.m[domain] = cachedShop{shop: sh, found: found, at: now}
	c.mu.Unlock()
	return sh, found, nil
}

// forget drops what is cached for domain, so a shop just installed is seen
// by the next webhook rather than after shopTTL.
func (c *shopCache) forget(domain string) {
	c.mu.Lock()
	delete(c.m, domain)
	c.mu.Unlock()
}

// recentDeliveries remembers the webhook IDs this process handed off most
// recently, which is where Shopify's retries of a slow answer land. It is
// the fast path of webhook-ID dedupe, with no Postgres read before the
// hand-off. What this process never saw (another replica's deliveries, a
// retry after a restart) is caught by the workflow ID, and by
// webhook_deliveries when the delivery is recorded: a known ID adds no
// registry entries again (see recorder).
type recentDeliveries struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

const recentCap = 50000

func (r *recentDeliveries) seen(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[id]
	return ok
}

func (r *recentDeliveries) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set == nil {
		r.set, r.ring = make(map[string]struct{}, recentCap), make([]string, recentCap)
	}
	if _, ok := r.set[id]; ok {
		return
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % recentCap
}
