package store

import (
	"context"
	"fmt"
	"time"
)

// DeleteFinishedBefore deletes up to limit invocations that finished before
// cutoff, with their attempts, checkpoints and logs, and returns how many it
// deleted. Rows locked by another collector are skipped, so collectors on
// several nodes never block one another.
func (s *Store) DeleteFinishedBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM powny.invocations WHERE id IN (
			SELECT id FROM powny.invocations
			WHERE finished_at < $1
			ORDER BY id -- the oldest first, by the primary key: no index on finished_at to keep up
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete finished invocations: %w", err)
	}
	return tag.RowsAffected(), nil
}

// DeleteEventsBefore deletes up to limit events received before cutoff, and
// returns how many it deleted. (Waits that an event ended keep its id.)
func (s *Store) DeleteEventsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM powny.events WHERE id IN (
			SELECT id FROM powny.events WHERE received_at < $1 ORDER BY received_at LIMIT $2
			FOR UPDATE SKIP LOCKED)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete old events: %w", err)
	}
	return tag.RowsAffected(), nil
}
