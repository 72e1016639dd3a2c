package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/powny/powny/platform/store"
)

// logBuffer collects the lines one attempt logs; they are stored with the
// attempt's outcome, in the same transaction.
type logBuffer struct {
	max int

	mu      sync.Mutex
	buf     []store.LogLine
	dropped int
}

// Log implements fnrun.LogSink.
func (b *logBuffer) Log(_ context.Context, level, message string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) >= b.max {
		b.dropped++
		return nil
	}
	b.buf = append(b.buf, store.LogLine{Level: level, Message: message, LoggedAt: time.Now()})
	return nil
}

func (b *logBuffer) lines() []store.LogLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return b.buf
	}
	return append(b.buf, store.LogLine{
		Level:    "warn",
		Message:  fmt.Sprintf("%d more lines dropped: an attempt keeps at most %d", b.dropped, b.max),
		LoggedAt: time.Now(),
	})
}
