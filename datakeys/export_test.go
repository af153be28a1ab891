package datakeys

import (
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
)

// NewWithCacheSize is New with a cache of size keys, for tests of eviction.
func NewWithCacheSize(db *store.DB, ring *keys.Ring, size int) *Keys { return newKeys(db, ring, size) }
