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
// returns how many it deleted. An event delivered to a wait of an unfinished
// invocation is kept: a run that resumes before the event is in its journal
// reads it from there. (Waits of finished invocations keep the id.)
func (s *Store) DeleteEventsBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM powny.events WHERE id IN (
			SELECT e.id FROM powny.events e WHERE e.received_at < $1
			  AND NOT EXISTS (
				SELECT 1 FROM powny.waits w JOIN powny.invocations i ON i.id = w.invocation_id
				WHERE w.event_id = e.id AND i.finished_at IS NULL)
			ORDER BY e.received_at LIMIT $2
			FOR UPDATE OF e SKIP LOCKED)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete old events: %w", err)
	}
	return tag.RowsAffected(), nil
}
