package invoke

import (
	"context"
	"sync"
	"time"

	"github.com/powny/powny/platform/store"
)

// maxBatch is the most invocations one statement inserts.
const maxBatch = 500

// batchTimeout bounds one batch's statement: it serves many requests, so no
// one request's context may cancel it.
const batchTimeout = 30 * time.Second

// batcher inserts invocations in groups (group commit): a request arriving
// while a batch is being written joins the next batch, written as soon as
// the current one commits. At low load each batch holds one invocation and
// nothing waits; under load, one statement and one commit serve many
// requests, which is what lets Postgres keep up.
type batcher struct {
	store *store.Store

	mu      sync.Mutex
	writing bool
	pending []*pendingInsert
}

type pendingInsert struct {
	req  store.NewInvocation
	inv  store.Invocation
	err  error
	done chan struct{}
}

// insert stores req in the next batch and returns once that batch committed
// (or ctx ended: the invocation may then have been stored all the same, as
// when any answer is lost).
func (b *batcher) insert(ctx context.Context, req store.NewInvocation) (store.Invocation, error) {
	p := &pendingInsert{req: req, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, p)
	if !b.writing {
		b.writing = true
		go b.write()
	}
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.inv, p.err
	case <-ctx.Done():
		return store.Invocation{}, ctx.Err()
	}
}

// write writes batches until none is pending.
func (b *batcher) write() {
	for {
		b.mu.Lock()
		batch := b.pending[:min(len(b.pending), maxBatch)]
		b.pending = b.pending[len(batch):]
		if len(batch) == 0 {
			b.writing = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		reqs := make([]store.NewInvocation, len(batch))
		for i, p := range batch {
			reqs[i] = p.req
		}
		ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
		invs, errs, err := b.store.InsertInvocations(ctx, reqs)
		cancel()
		for i, p := range batch {
			if err != nil {
				p.err = err
			} else {
				p.inv, p.err = invs[i], errs[i]
			}
			close(p.done)
		}
	}
}
