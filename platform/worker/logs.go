package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/powny/powny/platform/store"
)

// logBuffer collects the lines one attempt logs; they are stored with each
// checkpoint and with the attempt's outcome, in the same statement, so a line
// whose log call a checkpoint journals is never lost nor logged twice.
type logBuffer struct {
	max int

	mu      sync.Mutex
	buf     []store.LogLine
	kept    int // lines kept this attempt, taken or not
	dropped int
}

// Log implements fnrun.LogSink.
func (b *logBuffer) Log(_ context.Context, level, message string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.kept >= b.max {
		b.dropped++
		return nil
	}
	b.kept++
	b.buf = append(b.buf, store.LogLine{Level: level, Message: message, LoggedAt: time.Now()})
	return nil
}

// take returns the lines logged since the last take (with a note of those
// dropped over the limit), and forgets them.
func (b *logBuffer) take() []store.LogLine {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.buf
	if b.dropped > 0 {
		lines = append(lines, store.LogLine{
			Level:    "warn",
			Message:  fmt.Sprintf("%d more lines dropped: an attempt keeps at most %d", b.dropped, b.max),
			LoggedAt: time.Now(),
		})
	}
	b.buf, b.dropped = nil, 0
	return lines
}
