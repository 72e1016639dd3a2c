// Package groupcommit lets concurrent callers share one database statement:
// a call arriving while a batch is being written joins the next batch, which
// is written as soon as the current one is done. At low load each batch holds
// one call and nothing waits; under load one statement (and one commit)
// serves many calls, which is what lets Postgres keep up.
//
// This package may import only the standard library.
package groupcommit

import (
	"context"
	"sync"
	"time"
)

// Batcher writes requests of type Q in batches and answers each with an R.
type Batcher[Q, R any] struct {
	// WriteFunc writes one batch; it answers reqs[i] with results[i] or
	// errs[i], or fails the whole batch with err. Required.
	WriteFunc func(ctx context.Context, reqs []Q) (results []R, errs []error, err error)
	// Max is the most requests one batch holds. Default 500.
	Max int
	// Timeout bounds one batch: it serves many calls, so no one caller's
	// context may cancel it. Default 30s.
	Timeout time.Duration

	mu      sync.Mutex
	writing bool
	pending []*call[Q, R]
}

type call[Q, R any] struct {
	req  Q
	res  R
	err  error
	done chan struct{}
}

// Do adds req to the next batch and returns its answer once that batch is
// written, or ctx's error if ctx ends first (the request may then have been
// written all the same, as when any answer is lost).
func (b *Batcher[Q, R]) Do(ctx context.Context, req Q) (R, error) {
	c := &call[Q, R]{req: req, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if !b.writing {
		b.writing = true
		go b.write()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// write writes batches until none is pending.
func (b *Batcher[Q, R]) write() {
	limit, timeout := b.Max, b.Timeout
	if limit <= 0 {
		limit = 500
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	for {
		b.mu.Lock()
		batch := b.pending[:min(len(b.pending), limit)]
		b.pending = b.pending[len(batch):]
		if len(batch) == 0 {
			b.writing = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		reqs := make([]Q, len(batch))
		for i, c := range batch {
			reqs[i] = c.req
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		results, errs, err := b.WriteFunc(ctx, reqs)
		cancel()
		for i, c := range batch {
			if err != nil {
				c.err = err
			} else {
				c.res, c.err = results[i], errs[i]
			}
			close(c.done)
		}
	}
}
