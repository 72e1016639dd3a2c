package fnrun

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkpointer is Effects that performs every call and records checkpoints.
type checkpointer struct {
	Live
	lines []int
	err   error
}

func (c *checkpointer) Checkpoint(_ context.Context, line int) error {
	c.lines = append(c.lines, line)
	return c.err
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()
	src := "func main() {\n  a := uuid()\n  checkpoint()\n  return a\n}"

	t.Run("CallsTheJournalWithItsLine", func(t *testing.T) {
		t.Parallel()
		cp := &checkpointer{}
		_, err := runSource(t, NewRunner(RunnerConfig{}), src, "", RunOptions{Effects: cp})
		require.NoError(t, err)
		require.Equal(t, []int{3}, cp.lines)
	})
	t.Run("DoesNothingWithoutAJournal", func(t *testing.T) {
		t.Parallel()
		out, err := runSource(t, NewRunner(RunnerConfig{}), src, "", RunOptions{Effects: Live{}})
		require.NoError(t, err)
		require.Len(t, out, 38) // a quoted UUID
	})
	t.Run("AFailedCheckpointFailsTheRun", func(t *testing.T) {
		t.Parallel()
		cp := &checkpointer{err: errors.New("database is down")}
		_, err := runSource(t, NewRunner(RunnerConfig{}), "func main() {\n  try(checkpoint)\n  return 1\n}", "", RunOptions{Effects: cp})
		var re *RunError
		require.ErrorAs(t, err, &re)
		require.Equal(t, KindInternal, re.Kind, "try() cannot swallow it")
		require.Equal(t, "checkpoint: database is down", re.Message)
	})
}

func TestDurableSleep(t *testing.T) {
	t.Parallel()
	src := "func main() {\n  log.info(\"before\")\n  sleep(\"5s\")\n  return 1\n}"

	t.Run("SuspendsWithAJournal", func(t *testing.T) {
		t.Parallel()
		cp := &checkpointer{}
		start := time.Now()
		_, err := runSource(t, NewRunner(RunnerConfig{SuspendAfter: time.Second}), src, "", RunOptions{Effects: cp})
		var re *RunError
		require.ErrorAs(t, err, &re)
		require.Equal(t, KindSuspended, re.Kind)
		require.WithinDuration(t, start.Add(5*time.Second), re.Until, time.Second)
		require.Equal(t, []int{3}, cp.lines, "the sleep checkpoints before suspending")
		require.Less(t, time.Since(start), time.Second, "no waiting in place")
	})
	t.Run("ShortSleepsWaitInPlace", func(t *testing.T) {
		t.Parallel()
		cp := &checkpointer{}
		short := "func main() {\n  sleep(\"200ms\")\n  return 1\n}"
		_, err := runSource(t, NewRunner(RunnerConfig{SuspendAfter: time.Second}), short, "", RunOptions{Effects: cp, Timeout: 10 * time.Second})
		require.NoError(t, err)
		require.Empty(t, cp.lines)
	})
	t.Run("AResumedSleepWaitsOnlyForWhatIsLeft", func(t *testing.T) {
		t.Parallel()
		// The journal says the sleep ended a moment ago.
		replay := replayEffects{"sleep": time.Now().Add(-time.Millisecond).UTC().Format(time.RFC3339Nano)}
		start := time.Now()
		out, err := runSource(t, NewRunner(RunnerConfig{}), src, "", RunOptions{Effects: replay})
		require.NoError(t, err)
		require.Equal(t, "1", string(out))
		require.Less(t, time.Since(start), time.Second)
	})
}

// replayEffects returns a recorded result by call name, performing nothing.
type replayEffects map[string]any

func (r replayEffects) Do(_ context.Context, call Call, _ func(context.Context) (any, error)) (any, error) {
	return r[call.Name], nil
}
