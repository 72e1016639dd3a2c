package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/fnrun"
)

// testClock is Config.Now: one second later on each call.
func testClock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

// performing returns a perform that returns result and err.
func performing(result any, err error) func(context.Context) (any, error) {
	return func(context.Context) (any, error) { return result, err }
}

// mustNotPerform returns a perform that fails the test: a replayed call must
// perform nothing.
func mustNotPerform(t *testing.T) func(context.Context) (any, error) {
	t.Helper()
	return func(context.Context) (any, error) {
		t.Error("perform called during replay")
		return nil, errors.New("performed")
	}
}

// commits collects what Config.Commit receives.
type commits struct {
	batches [][]Entry
	lines   []int
	err     error
}

func (c *commits) commit(_ context.Context, entries []Entry, line int) error {
	if c.err != nil {
		return c.err
	}
	c.batches = append(c.batches, entries)
	c.lines = append(c.lines, line)
	return nil
}

func (c *commits) entries() []Entry {
	var all []Entry
	for _, b := range c.batches {
		all = append(all, b...)
	}
	return all
}

// testCall is one call of a scripted run.
type testCall struct {
	call   fnrun.Call
	result any
	err    error
}

func scriptedCalls() []testCall {
	return []testCall{
		{call: fnrun.Call{Name: "now"}, result: "2025-01-02T03:04:05.123456789Z"},
		{call: fnrun.Call{Name: "random", Args: []any{int64(10)}}, result: int64(7)},
		{call: fnrun.Call{Name: "random"}, result: 0.6046602879796196},
		{call: fnrun.Call{Name: "uuid"}, result: "0b5f6a2e-3b1e-4f8e-9d6c-2a1b3c4d5e6f"},
		{call: fnrun.Call{Name: "sleep", Args: []any{"10ms"}}, result: nil},
		{
			call:   fnrun.Call{Name: "http.request", Args: map[string]any{"method": "GET", "url": "http://x/json", "headers": map[string]any{"A": "b"}}},
			result: map[string]any{"status_code": int64(200), "headers": map[string]any{"X-Test": "yes"}, "body": `{"n": 1, "s": "<&>\"q\""}`},
		},
		{
			call: fnrun.Call{Name: "http.request", Args: map[string]any{"method": "GET", "url": "http://down/"}},
			err:  errors.New(`Get "http://down/": dial tcp: connection refused`),
		},
		{call: fnrun.Call{Name: "log.info", Args: []any{"hello"}}, result: nil},
	}
}

// roundTrip is value after a JSON round trip with json.Number, the form a
// replay returns.
func roundTrip(t *testing.T, value any) any {
	t.Helper()
	if value == nil {
		return nil
	}
	data, err := json.Marshal(value)
	require.NoError(t, err)
	decoded, err := decodeResult(data)
	require.NoError(t, err)
	return decoded
}

func TestRecordAndReplay(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		calls   []testCall
		commits *commits
		stored  []Entry
	}
	// setup records the scripted calls live and checkpoints them.
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		b := &testBundle{calls: scriptedCalls(), commits: &commits{}}
		j := New(Config{Commit: b.commits.commit, Now: testClock()})
		ctx := context.Background()
		for i, c := range b.calls {
			c.call.Line = 10 + i
			result, err := j.Do(ctx, c.call, performing(c.result, c.err))
			if c.err != nil {
				require.EqualError(t, err, c.err.Error())
				require.Nil(t, result)
			} else {
				require.NoError(t, err)
				require.Equal(t, c.result, result, "a live call returns perform's result as is")
			}
			require.Equal(t, i+1, j.Len())
			require.False(t, j.Replaying())
		}
		require.Len(t, j.Pending(), len(b.calls))
		require.NoError(t, j.Checkpoint(ctx, 42))
		require.Empty(t, j.Pending())
		require.Len(t, b.commits.batches, 1)
		require.Equal(t, []int{42}, b.commits.lines)
		b.stored = b.commits.entries()
		return b
	}

	t.Run("EntriesDescribeTheCalls", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.Len(t, b.stored, len(b.calls))
		for i, e := range b.stored {
			require.Equal(t, i, e.Seq)
			require.Equal(t, b.calls[i].call.Name, e.Name)
			require.Equal(t, 10+i, e.Line)
			require.Len(t, e.Digest, 32)
			require.Equal(t, time.UTC, e.At.Location())
			require.Equal(t, time.Date(2025, 1, 2, 2, 4, 5+i+1, 0, time.UTC), e.At)
		}
		require.JSONEq(t, `"2025-01-02T03:04:05.123456789Z"`, string(b.stored[0].Result))
		require.Empty(t, b.stored[4].Result, "a nil result is stored as nothing")
		require.Empty(t, b.stored[6].Result)
		require.Equal(t, `Get "http://down/": dial tcp: connection refused`, b.stored[6].Error)
		require.NotEqual(t, b.stored[1].Digest, b.stored[2].Digest)
	})

	t.Run("ReplayPerformsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var replayed []Entry
		j := New(Config{Replay: b.stored, OnReplay: func(e Entry) { replayed = append(replayed, e) }})
		ctx := context.Background()
		for i, c := range b.calls {
			require.True(t, j.Replaying())
			c.call.Line = 10 + i
			result, err := j.Do(ctx, c.call, mustNotPerform(t))
			if c.err != nil {
				require.EqualError(t, err, c.err.Error())
				var rerr *fnrun.RunError
				require.NotErrorAs(t, err, &rerr, "a recorded error replays as an ordinary error")
				require.Nil(t, result)
				continue
			}
			require.NoError(t, err)
			require.Equal(t, roundTrip(t, c.result), result)
		}
		require.Equal(t, b.stored, replayed)
		require.False(t, j.Replaying())
		require.Empty(t, j.Pending())
		require.NoError(t, j.Finish())

		// Past the end, calls are live and recorded again.
		result, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, performing("new", nil))
		require.NoError(t, err)
		require.Equal(t, "new", result)
		pending := j.Pending()
		require.Len(t, pending, 1)
		require.Equal(t, len(b.calls), pending[0].Seq)
		require.Equal(t, len(b.calls)+1, j.Len())
	})

	t.Run("ReplayedNumbersAreJSONNumbers", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := New(Config{Replay: b.stored})
		ctx := context.Background()
		_, err := j.Do(ctx, b.calls[0].call, mustNotPerform(t))
		require.NoError(t, err)
		n, err := j.Do(ctx, b.calls[1].call, mustNotPerform(t))
		require.NoError(t, err)
		require.Equal(t, json.Number("7"), n)
		f, err := j.Do(ctx, b.calls[2].call, mustNotPerform(t))
		require.NoError(t, err)
		require.Equal(t, json.Number("0.6046602879796196"), f)
		got, err := f.(json.Number).Float64()
		require.NoError(t, err)
		require.Equal(t, math.Float64bits(0.6046602879796196), math.Float64bits(got), "the exact float comes back")
	})

	t.Run("MismatchedName", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := New(Config{Replay: b.stored})
		ctx := context.Background()
		_, err := j.Do(ctx, fnrun.Call{Name: "now", Line: 10}, mustNotPerform(t))
		require.NoError(t, err)
		_, err = j.Do(ctx, fnrun.Call{Name: "uuid", Line: 11}, mustNotPerform(t))
		var rerr *fnrun.RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, KindNondeterminism, rerr.Kind)
		require.Equal(t, 11, rerr.Line)
		require.Equal(t, "non-determinism at effect #1: the journal has random (line 11) but this run called uuid (line 11); "+
			"was the function changed, or does it depend on something outside the journal?", rerr.Message)

		// Sticky: every later call fails with the same error.
		_, again := j.Do(ctx, b.calls[1].call, mustNotPerform(t))
		require.Same(t, rerr, again)
		require.Same(t, rerr, j.Checkpoint(ctx, 0))
		require.Same(t, rerr, j.Finish())
		require.Equal(t, 1, j.Len())
	})

	t.Run("MismatchedArgs", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := New(Config{Replay: b.stored})
		ctx := context.Background()
		_, err := j.Do(ctx, b.calls[0].call, mustNotPerform(t))
		require.NoError(t, err)
		_, err = j.Do(ctx, fnrun.Call{Name: "random", Args: []any{int64(11)}}, mustNotPerform(t))
		var rerr *fnrun.RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, KindNondeterminism, rerr.Kind)
		require.Contains(t, rerr.Message, "non-determinism at effect #1: the journal has random (line 11) but this run called random with different arguments")
	})

	t.Run("ReturnsEarly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		j := New(Config{Replay: b.stored})
		_, err := j.Do(context.Background(), b.calls[0].call, mustNotPerform(t))
		require.NoError(t, err)
		var rerr *fnrun.RunError
		require.ErrorAs(t, j.Finish(), &rerr)
		require.Equal(t, KindNondeterminism, rerr.Kind)
		require.Contains(t, rerr.Message, "the journal has random (line 11) but this run returned without calling it (7 stored effects not replayed)")
	})

	t.Run("CheckpointWhileReplayingDoesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := &commits{}
		j := New(Config{Replay: b.stored, Commit: c.commit})
		ctx := context.Background()
		_, err := j.Do(ctx, b.calls[0].call, mustNotPerform(t))
		require.NoError(t, err)
		require.NoError(t, j.Checkpoint(ctx, 1))
		require.Empty(t, c.batches)
	})
}

func TestPerformErrors(t *testing.T) {
	t.Parallel()

	t.Run("RunErrorIsNotRecorded", func(t *testing.T) {
		t.Parallel()
		j := New(Config{})
		limit := &fnrun.RunError{Kind: fnrun.KindLimit, Message: "http.get: response body exceeds 10 bytes"}
		_, err := j.Do(context.Background(), fnrun.Call{Name: "http.request"}, performing(nil, limit))
		require.Same(t, limit, err)
		require.Empty(t, j.Pending())
		require.Equal(t, 0, j.Len())
		_, err = j.Do(context.Background(), fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		require.Same(t, limit, err, "a fatal error is sticky")
	})

	t.Run("CancelledCallIsNotRecorded", func(t *testing.T) {
		t.Parallel()
		j := New(Config{})
		ctx, cancel := context.WithCancel(context.Background())
		_, err := j.Do(ctx, fnrun.Call{Name: "sleep", Args: []any{"1h"}}, func(ctx context.Context) (any, error) {
			cancel()
			<-ctx.Done()
			return nil, ctx.Err()
		})
		require.ErrorIs(t, err, context.Canceled)
		require.Empty(t, j.Pending())
	})

	t.Run("EmptyErrorMessage", func(t *testing.T) {
		t.Parallel()
		j := New(Config{})
		_, err := j.Do(context.Background(), fnrun.Call{Name: "log.info"}, performing(nil, errors.New("")))
		require.EqualError(t, err, "error")
		require.Equal(t, "error", j.Pending()[0].Error)
	})

	t.Run("UnencodableResult", func(t *testing.T) {
		t.Parallel()
		j := New(Config{})
		_, err := j.Do(context.Background(), fnrun.Call{Name: "random"}, performing(func() {}, nil))
		var rerr *fnrun.RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, fnrun.KindInternal, rerr.Kind)
		require.Contains(t, rerr.Message, "effect #0 (random): cannot encode the result as JSON")
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	requireLimit := func(t *testing.T, err error, contains string) {
		t.Helper()
		var rerr *fnrun.RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, fnrun.KindLimit, rerr.Kind)
		require.Contains(t, rerr.Message, contains)
	}

	t.Run("Entries", func(t *testing.T) {
		t.Parallel()
		stored := []Entry{{Seq: 0, Name: "uuid", Digest: mustDigest(t, nil), Result: json.RawMessage(`"a"`)}}
		j := New(Config{Replay: stored, MaxEntries: 3})
		_, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		require.NoError(t, err)
		for range 2 {
			_, err = j.Do(ctx, fnrun.Call{Name: "uuid"}, performing("a", nil))
			require.NoError(t, err)
		}
		_, err = j.Do(ctx, fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		requireLimit(t, err, "journal: more than 3 effects (limit)")
		require.Len(t, j.Pending(), 2)
		require.Equal(t, 3, j.Len())
	})

	t.Run("DefaultEntries", func(t *testing.T) {
		t.Parallel()
		j := New(Config{})
		for i := range 100_000 {
			_, err := j.Do(ctx, fnrun.Call{Name: "now"}, performing(nil, nil))
			require.NoError(t, err, i)
		}
		_, err := j.Do(ctx, fnrun.Call{Name: "now"}, mustNotPerform(t))
		requireLimit(t, err, "journal: more than 100000 effects (limit)")
		require.Len(t, j.Pending(), 100_000)
	})

	t.Run("TotalBytes", func(t *testing.T) {
		t.Parallel()
		big := strings.Repeat("x", 300)
		stored := []Entry{{Seq: 0, Name: "uuid", Digest: mustDigest(t, nil), Result: json.RawMessage(`"` + big + `"`)}}
		j := New(Config{Replay: stored, MaxBytes: 1000})
		_, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		require.NoError(t, err)
		_, err = j.Do(ctx, fnrun.Call{Name: "uuid", Line: 4}, performing(big, nil))
		require.NoError(t, err, "two entries of about 400 bytes fit in 1000")
		_, err = j.Do(ctx, fnrun.Call{Name: "uuid", Line: 5}, performing(big, nil))
		requireLimit(t, err, "journal: effect #2 (uuid (line 5)) would grow the journal to ")
		requireLimit(t, err, "more than the limit of 1000 (limit)")
		require.Len(t, j.Pending(), 1)
	})

	t.Run("OneEntry", func(t *testing.T) {
		t.Parallel()
		j := New(Config{MaxEntry: 16 << 20})
		body := strings.Repeat("b", 20<<20)
		result := map[string]any{"status_code": int64(200), "headers": map[string]any{}, "body": body}
		_, err := j.Do(ctx, fnrun.Call{Name: "http.request", Line: 7}, performing(result, nil))
		requireLimit(t, err, "journal: the result of effect #0 (http.request (line 7)) is ")
		requireLimit(t, err, "more than the limit of 16777216 for one effect (limit)")
		require.Empty(t, j.Pending())
		require.Equal(t, 0, j.Len())
	})

	t.Run("OneEntryCountsTheWholeEntry", func(t *testing.T) {
		t.Parallel()
		j := New(Config{MaxEntry: 300, Now: testClock()})
		_, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, performing(strings.Repeat("u", 100), nil))
		require.NoError(t, err)
		data, err := json.Marshal(j.Pending()[0])
		require.NoError(t, err)
		// The result fits in 300 bytes, the entry does not: one byte too many.
		_, err = j.Do(ctx, fnrun.Call{Name: "uuid"}, performing(strings.Repeat("u", 300-len(data)+100+1), nil))
		requireLimit(t, err, "is 301 bytes encoded, more than the limit of 300 for one effect")
		// Exactly at the limit is fine.
		_, err = New(Config{MaxEntry: 300, Now: testClock()}).Do(ctx, fnrun.Call{Name: "uuid"}, performing(strings.Repeat("u", 300-len(data)+100), nil))
		require.NoError(t, err)
	})
}

// TestEntrySize checks that checkSize measures an entry exactly.
func TestEntrySize(t *testing.T) {
	t.Parallel()
	for _, result := range []any{nil, "x", map[string]any{"a": []any{1, 2.5, "<&>"}}, strings.Repeat("é", 100)} {
		for _, errMsg := range []string{"", "boom \"quoted\""} {
			j := New(Config{})
			perr := error(nil)
			if errMsg != "" {
				perr = errors.New(errMsg)
			}
			_, _ = j.Do(context.Background(), fnrun.Call{Name: "x", Line: 3}, performing(result, perr))
			e := j.Pending()[0]
			data, err := json.Marshal(e)
			require.NoError(t, err)
			require.Equal(t, int64(len(data)), j.bytes, "result %v, error %q", result, errMsg)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	do := func(t *testing.T, j *Journal, n int) {
		t.Helper()
		for range n {
			_, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, performing("u", nil))
			require.NoError(t, err)
		}
	}

	t.Run("CommitsPendingOnce", func(t *testing.T) {
		t.Parallel()
		c := &commits{}
		j := New(Config{Commit: c.commit})
		require.NoError(t, j.Checkpoint(ctx, 1))
		require.Empty(t, c.batches, "nothing pending: no commit")
		do(t, j, 3)
		require.NoError(t, j.Checkpoint(ctx, 2))
		require.NoError(t, j.Checkpoint(ctx, 3))
		do(t, j, 2)
		require.NoError(t, j.Checkpoint(ctx, 4))
		require.Len(t, c.batches, 2)
		require.Equal(t, []int{2, 4}, c.lines)
		require.Equal(t, []int{0, 1, 2}, seqs(c.batches[0]))
		require.Equal(t, []int{3, 4}, seqs(c.batches[1]))
		require.Empty(t, j.Pending())
	})

	t.Run("FailedCommitIsFatal", func(t *testing.T) {
		t.Parallel()
		c := &commits{err: errors.New("fence lost")}
		j := New(Config{Commit: c.commit})
		do(t, j, 2)
		err := j.Checkpoint(ctx, 5)
		var rerr *fnrun.RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, fnrun.KindInternal, rerr.Kind)
		require.Equal(t, "journal: checkpoint of effects #0 to #1 failed: fence lost", rerr.Message)
		require.Equal(t, 5, rerr.Line)
		require.Len(t, j.Pending(), 2, "the entries stay pending")
		_, err = j.Do(ctx, fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		require.Same(t, rerr, err)
	})

	t.Run("CommitRunErrorPassesThrough", func(t *testing.T) {
		t.Parallel()
		lost := &fnrun.RunError{Kind: fnrun.KindCanceled, Message: "canceled: lost ownership"}
		c := &commits{err: fmt.Errorf("store: %w", lost)}
		j := New(Config{Commit: c.commit})
		do(t, j, 1)
		require.Same(t, lost, j.Checkpoint(ctx, 0))
	})

	t.Run("NilCommit", func(t *testing.T) {
		t.Parallel()
		j := New(Config{})
		do(t, j, 1)
		var rerr *fnrun.RunError
		require.ErrorAs(t, j.Checkpoint(ctx, 0), &rerr)
		require.Equal(t, fnrun.KindInternal, rerr.Kind)
		require.Contains(t, rerr.Message, "Config.Commit is nil")
	})
}

func TestDurabilityEffect(t *testing.T) {
	t.Parallel()

	ctx := context.Background()

	t.Run("CommitsEachEntryBeforeDoReturns", func(t *testing.T) {
		t.Parallel()
		c := &commits{}
		j := New(Config{Durability: DurabilityEffect, Commit: c.commit})
		for i := range 3 {
			_, err := j.Do(ctx, fnrun.Call{Name: "uuid", Line: 9}, func(context.Context) (any, error) {
				require.Len(t, c.batches, i, "perform runs before its commit")
				return "u", nil
			})
			require.NoError(t, err)
			require.Len(t, c.batches, i+1)
			require.Equal(t, []int{i}, seqs(c.batches[i]))
			require.Empty(t, j.Pending())
		}
		require.Equal(t, []int{0, 0, 0}, c.lines, "implicit checkpoints have no line")
		require.NoError(t, j.Checkpoint(ctx, 3))
		require.Len(t, c.batches, 3)
	})

	t.Run("ErrorsAreCommittedToo", func(t *testing.T) {
		t.Parallel()
		c := &commits{}
		j := New(Config{Durability: DurabilityEffect, Commit: c.commit})
		_, err := j.Do(ctx, fnrun.Call{Name: "http.request"}, performing(nil, errors.New("refused")))
		require.EqualError(t, err, "refused")
		require.Len(t, c.batches, 1)
		require.Equal(t, "refused", c.batches[0][0].Error)
	})

	t.Run("FailedCommitFailsTheCall", func(t *testing.T) {
		t.Parallel()
		c := &commits{err: errors.New("fence lost")}
		j := New(Config{Durability: DurabilityEffect, Commit: c.commit})
		_, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, performing("u", nil))
		var rerr *fnrun.RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, fnrun.KindInternal, rerr.Kind)
		require.Equal(t, "journal: checkpoint of effects #0 to #0 failed: fence lost", rerr.Message)
		_, again := j.Do(ctx, fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		require.Same(t, rerr, again)
	})

	t.Run("ReplayCommitsNothing", func(t *testing.T) {
		t.Parallel()
		c := &commits{}
		stored := []Entry{{Seq: 0, Name: "uuid", Digest: mustDigest(t, nil), Result: json.RawMessage(`"a"`)}}
		j := New(Config{Replay: stored, Durability: DurabilityEffect, Commit: c.commit})
		_, err := j.Do(ctx, fnrun.Call{Name: "uuid"}, mustNotPerform(t))
		require.NoError(t, err)
		require.Empty(t, c.batches)
	})
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()

	for name, tt := range map[string]struct {
		cfg  Config
		want string
	}{
		"Durability":        {cfg: Config{Durability: "always"}, want: `journal: Config.Durability is "always": want "checkpoint" or "effect"`},
		"EffectNeedsCommit": {cfg: Config{Durability: DurabilityEffect}, want: `journal: Config.Commit is required with durability "effect"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := New(tt.cfg)
			_, err := j.Do(context.Background(), fnrun.Call{Name: "uuid"}, mustNotPerform(t))
			var rerr *fnrun.RunError
			require.ErrorAs(t, err, &rerr)
			require.Equal(t, fnrun.KindInternal, rerr.Kind)
			require.Equal(t, tt.want, rerr.Message)
		})
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()

	same := [][]any{
		{int64(3), float64(3), json.Number("3"), 3},
		{map[string]any{"a": int64(1), "b": "x"}, map[string]any{"b": "x", "a": 1.0}},
		{nil},
		{[]any{"10ms"}},
	}
	var digests []string
	for _, group := range same {
		first := mustDigest(t, group[0])
		require.Len(t, first, 32)
		for _, v := range group[1:] {
			require.Equal(t, first, mustDigest(t, v), "%#v", v)
		}
		digests = append(digests, first)
	}
	require.Equal(t, "74234e98afe7498fb5daf1f36ac2d78a", digests[2], "the digest of null is stable")
	digests = append(digests, mustDigest(t, []any{"11ms"}), mustDigest(t, 3.5))
	for i := range digests {
		for k := range i {
			require.NotEqual(t, digests[k], digests[i])
		}
	}
}

func TestEncodeDecodeAll(t *testing.T) {
	t.Parallel()

	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	entry := func(seq int) Entry {
		return Entry{Seq: seq, Name: "now", Digest: "d", Line: seq + 1, Result: json.RawMessage(`{"a":[1,2.5]}`), At: at}
	}
	row := func(t *testing.T, seqs ...int) []byte {
		t.Helper()
		var entries []Entry
		for _, s := range seqs {
			entries = append(entries, entry(s))
		}
		data, err := Encode(entries)
		require.NoError(t, err)
		return data
	}

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		errEntry := Entry{Seq: 3, Name: "http.request", Digest: "e", Error: "refused", At: at}
		last, err := Encode([]Entry{errEntry})
		require.NoError(t, err)
		empty, err := Encode(nil)
		require.NoError(t, err)
		require.Equal(t, "[]", string(empty))
		got, err := DecodeAll([][]byte{row(t, 0, 1), empty, row(t, 2), last})
		require.NoError(t, err)
		require.Equal(t, []Entry{entry(0), entry(1), entry(2), errEntry}, got)
		require.JSONEq(t, `[{"seq":3,"name":"http.request","digest":"e","error":"refused","at":"2025-01-02T03:04:05.000000006Z"}]`, string(last))
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		got, err := DecodeAll(nil)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("Gap", func(t *testing.T) {
		t.Parallel()
		_, err := DecodeAll([][]byte{row(t, 0, 1), row(t, 4, 5)})
		require.ErrorIs(t, err, ErrCorrupt)
		require.EqualError(t, err, "journal: corrupt: gap in checkpoint row 1: entry seq 4 follows seq 1 (seqs 2 to 3 are missing)")
	})

	t.Run("NotFromZero", func(t *testing.T) {
		t.Parallel()
		_, err := DecodeAll([][]byte{row(t, 1)})
		require.EqualError(t, err, "journal: corrupt: gap in checkpoint row 0: entry seq 1 follows seq -1 (seqs 0 to 0 are missing)")
	})

	t.Run("Overlap", func(t *testing.T) {
		t.Parallel()
		_, err := DecodeAll([][]byte{row(t, 0, 1), row(t, 1, 2)})
		require.ErrorIs(t, err, ErrCorrupt)
		require.EqualError(t, err, "journal: corrupt: overlap in checkpoint row 1: entry seq 1 repeats an earlier seq (expected 2)")
	})

	t.Run("NotJSON", func(t *testing.T) {
		t.Parallel()
		_, err := DecodeAll([][]byte{row(t, 0), []byte(`{"seq": 1}`)})
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "checkpoint row 1 is not a JSON array of entries")
	})
}

func TestDecodeResult(t *testing.T) {
	t.Parallel()
	for _, data := range []string{`"plain"`, `"esc\"aped\u003c"`, `""`, `"é"`, `12`, `1.5e-7`, `{"a":[1,null,true]}`, `[]`} {
		got, err := decodeResult(json.RawMessage(data))
		require.NoError(t, err)
		dec := json.NewDecoder(strings.NewReader(data))
		dec.UseNumber()
		var want any
		require.NoError(t, dec.Decode(&want))
		require.Equal(t, want, got, data)
	}
	_, err := decodeResult(json.RawMessage(`1 2`))
	require.Error(t, err)
}

func mustDigest(t *testing.T, args any) string {
	t.Helper()
	d, err := Digest(args)
	require.NoError(t, err)
	return d
}

func seqs(entries []Entry) []int {
	out := make([]int, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}
