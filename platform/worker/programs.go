package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
)

// program is one loaded function version.
type program struct {
	program *fnrun.Program
	config  fnrun.Config
}

// programCache keeps loaded versions by id. Versions are immutable, so an
// entry never goes stale; the cache is only bounded in size.
type programCache struct {
	store *store.Store
	max   int

	mu      sync.Mutex
	entries map[int64]*program
}

func newProgramCache(st *store.Store, size int) *programCache {
	return &programCache{store: st, max: size, entries: make(map[int64]*program)}
}

func (c *programCache) get(ctx context.Context, versionID int64) (*program, error) {
	c.mu.Lock()
	p, ok := c.entries[versionID]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	code, config, err := c.store.LoadCode(ctx, versionID)
	if err != nil {
		return nil, fmt.Errorf("load version %d: %w", versionID, err)
	}
	p = &program{}
	if err := json.Unmarshal(config, &p.config); err != nil {
		return nil, fmt.Errorf("decode config of version %d: %w", versionID, err)
	}
	if p.program, err = fnrun.Load(code); err != nil {
		return nil, fmt.Errorf("load code of version %d: %w", versionID, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Crude but bounded: start over. Loading a version again costs one
		// query and an unmarshal, far less than keeping every version ever run.
		clear(c.entries)
	}
	c.entries[versionID] = p
	return p, nil
}
