package journal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/powny/powny/platform/fnrun"
)

// KindNondeterminism is the fnrun.RunError Kind of a replay that diverged
// from its journal: the run made a different call than the one recorded at
// the same position.
const KindNondeterminism = "nondeterminism"

// Durability modes (Config.Durability).
const (
	// DurabilityCheckpoint commits entries when the function calls
	// checkpoint(), at suspension points, and with the result.
	DurabilityCheckpoint = "checkpoint"
	// DurabilityEffect commits every entry before its call returns.
	DurabilityEffect = "effect"
)

// Config configures a Journal. A zero or negative field takes its default.
type Config struct {
	// Replay is the stored journal (the committed entries), in seq order, as
	// DecodeAll returns it. It is read, never modified.
	Replay []Entry
	// Durability is DurabilityCheckpoint (the default) or DurabilityEffect.
	Durability string
	// MaxEntries caps the number of entries, stored and live together.
	// Default 100,000.
	MaxEntries int
	// MaxBytes caps the encoded size of all entries, stored and live
	// together. Default 64 MiB.
	MaxBytes int64
	// MaxEntry caps the encoded size of one entry. Default 16 MiB.
	MaxEntry int
	// Commit stores entries as one checkpoint; the caller's transaction
	// checks the fence first. line is the source line of the checkpoint()
	// call, 0 for an implicit checkpoint (durability "effect") or an unknown
	// line. If Commit returns a *fnrun.RunError the run fails with it as is;
	// any other error fails the run with Kind fnrun.KindInternal. Required
	// to commit anything: a nil Commit fails the first commit.
	Commit func(ctx context.Context, entries []Entry, line int) error
	// OnReplay, if set, is called with each entry as it is replayed.
	OnReplay func(e Entry)
	// Now is the clock for Entry.At. Default time.Now.
	Now func() time.Time
}

// WithDefaults returns the config with its defaults filled in.
func (c Config) WithDefaults() Config {
	c.Durability = cmp.Or(c.Durability, DurabilityCheckpoint)
	c.MaxEntries = max(c.MaxEntries, 0)
	c.MaxEntries = cmp.Or(c.MaxEntries, 100_000)
	c.MaxBytes = max(c.MaxBytes, 0)
	c.MaxBytes = cmp.Or(c.MaxBytes, 64<<20)
	c.MaxEntry = max(c.MaxEntry, 0)
	c.MaxEntry = cmp.Or(c.MaxEntry, 16<<20)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch c.Durability {
	case DurabilityCheckpoint, DurabilityEffect:
	default:
		return fmt.Errorf("journal: Config.Durability is %q: want %q or %q", c.Durability, DurabilityCheckpoint, DurabilityEffect)
	}
	if c.Durability == DurabilityEffect && c.Commit == nil {
		return errors.New("journal: Config.Commit is required with durability \"effect\"")
	}
	return nil
}

// Journal records the effects of one run of an invocation, and replays the
// stored ones. It implements fnrun.Effects. It is safe for concurrent use,
// but a run makes its calls one at a time: concurrent calls would get their
// sequence numbers in whatever order they arrive.
type Journal struct {
	cfg Config

	// callMu serialises Do and Checkpoint, across perform and Commit.
	callMu sync.Mutex

	// mu guards the fields below, which Pending, Len and Replaying read
	// while a call may be in progress.
	mu sync.Mutex
	// next is the seq of the next call.
	next int
	// live are the entries recorded in this run, seq len(Replay) onwards;
	// live[:committed] were committed.
	live      []Entry
	committed int
	// bytes is the encoded size of all entries; -1 until the first live
	// entry (replayed entries are only measured if the run goes live).
	bytes int64
	// fatal, once set, is returned by every later Do and Checkpoint.
	fatal *fnrun.RunError
}

var (
	_ fnrun.Effects      = (*Journal)(nil)
	_ fnrun.Checkpointer = (*Journal)(nil)
)

// New returns a journal that replays cfg.Replay, then records. An invalid
// config fails the first Do or Checkpoint with Kind fnrun.KindInternal.
func New(cfg Config) *Journal {
	cfg = cfg.WithDefaults()
	j := &Journal{cfg: cfg, bytes: -1}
	if err := cfg.validate(); err != nil {
		j.fatal = &fnrun.RunError{Kind: fnrun.KindInternal, Message: err.Error()}
	}
	return j
}

// Do replays the call if its seq is in the stored journal, and otherwise
// performs and records it. See fnrun.Effects.
//
// A replayed call must match its entry's name and argument digest, or Do
// fails the run with Kind KindNondeterminism. A recorded Error replays as an
// ordinary error with the same message. A live call that perform fails with a
// *fnrun.RunError, or that ends with ctx (a cancelled sleep or request), is
// not recorded.
func (j *Journal) Do(ctx context.Context, call fnrun.Call, perform func(ctx context.Context) (any, error)) (any, error) {
	j.callMu.Lock()
	defer j.callMu.Unlock()

	j.mu.Lock()
	fatal, seq := j.fatal, j.next
	j.mu.Unlock()
	if fatal != nil {
		return nil, fatal
	}
	line := callLine(call)
	digest, err := Digest(call.Args)
	if err != nil {
		return nil, j.fail(&fnrun.RunError{
			Kind: fnrun.KindInternal, Line: line,
			Message: fmt.Sprintf("journal: effect #%d (%s): %v", seq, call.Name, err),
		})
	}
	if seq < len(j.cfg.Replay) {
		return j.replay(seq, call, line, digest)
	}
	return j.record(ctx, seq, call, line, digest, perform)
}

// replay returns the result of the stored entry seq.
func (j *Journal) replay(seq int, call fnrun.Call, line int, digest string) (any, error) {
	e := j.cfg.Replay[seq]
	if e.Name != call.Name || e.Digest != digest || e.Seq != seq {
		return nil, j.fail(nondeterminism(seq, e, call, line, digest))
	}
	result, err := decodeResult(e.Result)
	if err != nil {
		return nil, j.fail(&fnrun.RunError{
			Kind: fnrun.KindInternal, Line: line,
			Message: fmt.Sprintf("journal: effect #%d (%s): the stored result is not valid JSON: %v", seq, e.Name, err),
		})
	}
	j.mu.Lock()
	j.next++
	j.mu.Unlock()
	if j.cfg.OnReplay != nil {
		j.cfg.OnReplay(e)
	}
	if e.Error != "" {
		return nil, errors.New(e.Error)
	}
	return result, nil
}

func nondeterminism(seq int, e Entry, call fnrun.Call, line int, digest string) *fnrun.RunError {
	var msg string
	switch {
	case e.Seq != seq:
		msg = fmt.Sprintf("journal: the stored journal is corrupt: effect #%d has seq %d", seq, e.Seq)
	case e.Name == call.Name:
		msg = fmt.Sprintf("non-determinism at effect #%d: the journal has %s%s but this run called %s%s with different arguments (digest %s, recorded %s); "+
			"was the function changed, or does it depend on something outside the journal?",
			seq, e.Name, atLine(e.Line), call.Name, atLine(line), digest, e.Digest)
	default:
		msg = fmt.Sprintf("non-determinism at effect #%d: the journal has %s%s but this run called %s%s; "+
			"was the function changed, or does it depend on something outside the journal?",
			seq, e.Name, atLine(e.Line), call.Name, atLine(line))
	}
	return &fnrun.RunError{Kind: KindNondeterminism, Message: msg, Line: line}
}

func atLine(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d)", line)
}

// record performs a live call and records it.
func (j *Journal) record(ctx context.Context, seq int, call fnrun.Call, line int, digest string, perform func(ctx context.Context) (any, error)) (any, error) {
	if seq >= j.cfg.MaxEntries {
		return nil, j.fail(&fnrun.RunError{
			Kind: fnrun.KindLimit, Line: line,
			Message: fmt.Sprintf("journal: more than %d effects (limit)", j.cfg.MaxEntries),
		})
	}
	result, performErr := perform(ctx)
	if performErr != nil {
		// Fatal, or the run ends: fnrun fails the run, and a replay must
		// perform the call again.
		if rerr, ok := errors.AsType[*fnrun.RunError](performErr); ok {
			return nil, j.fail(rerr)
		}
		if ctx.Err() != nil {
			return nil, performErr
		}
	}
	e := Entry{Seq: seq, Name: call.Name, Digest: digest, Line: line, At: j.cfg.Now().UTC()}
	if performErr != nil {
		// An empty message would read as success.
		e.Error = cmp.Or(performErr.Error(), "error")
		result = nil
	} else {
		var err error
		if e.Result, err = encodeResult(result); err != nil {
			return nil, j.fail(&fnrun.RunError{
				Kind: fnrun.KindInternal, Line: line,
				Message: fmt.Sprintf("journal: effect #%d (%s): cannot encode the result as JSON: %v", seq, call.Name, err),
			})
		}
	}
	size, rerr := j.checkSize(e)
	if rerr != nil {
		return nil, j.fail(rerr)
	}

	j.mu.Lock()
	j.live = append(j.live, e)
	j.next++
	j.bytes += size
	j.mu.Unlock()

	if j.cfg.Durability == DurabilityEffect {
		if rerr := j.commit(ctx, 0); rerr != nil {
			return nil, rerr
		}
	}
	if e.Error != "" {
		// The error a replay returns, so that both runs see the same one.
		return nil, errors.New(e.Error)
	}
	return result, nil
}

// checkSize returns the encoded size of e, or the limit it exceeds.
func (j *Journal) checkSize(e Entry) (int64, *fnrun.RunError) {
	result := e.Result
	if len(result) > j.cfg.MaxEntry {
		return 0, j.entryLimit(e, int64(len(result)))
	}
	// The size of e is that of e without its result, plus the result and its
	// key: no need to copy the result, which may be megabytes, once more.
	e.Result = nil
	meta, err := json.Marshal(e)
	if err != nil {
		return 0, &fnrun.RunError{
			Kind: fnrun.KindInternal, Line: e.Line,
			Message: fmt.Sprintf("journal: effect #%d (%s): cannot encode the entry: %v", e.Seq, e.Name, err),
		}
	}
	size := int64(len(meta))
	if len(result) > 0 {
		size += int64(len(`,"result":`) + len(result))
	}
	if size > int64(j.cfg.MaxEntry) {
		return 0, j.entryLimit(e, size)
	}
	total, err := j.totalBytes()
	if err != nil {
		return 0, &fnrun.RunError{
			Kind: fnrun.KindInternal, Line: e.Line,
			Message: fmt.Sprintf("journal: measure the stored journal: %v", err),
		}
	}
	if total+size > j.cfg.MaxBytes {
		return 0, &fnrun.RunError{
			Kind: fnrun.KindLimit, Line: e.Line,
			Message: fmt.Sprintf("journal: effect #%d (%s%s) would grow the journal to %d bytes, more than the limit of %d (limit)",
				e.Seq, e.Name, atLine(e.Line), total+size, j.cfg.MaxBytes),
		}
	}
	return size, nil
}

func (j *Journal) entryLimit(e Entry, size int64) *fnrun.RunError {
	return &fnrun.RunError{
		Kind: fnrun.KindLimit, Line: e.Line,
		Message: fmt.Sprintf("journal: the result of effect #%d (%s%s) is %d bytes encoded, more than the limit of %d for one effect (limit)",
			e.Seq, e.Name, atLine(e.Line), size, j.cfg.MaxEntry),
	}
}

// totalBytes is the encoded size of the entries so far. The stored entries
// are measured on the first call, so that a run that only replays never
// encodes them.
func (j *Journal) totalBytes() (int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.bytes >= 0 {
		return j.bytes, nil
	}
	var total int64
	for _, e := range j.cfg.Replay {
		data, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		total += int64(len(data))
	}
	j.bytes = total
	return total, nil
}

// Checkpoint commits the live entries not yet committed, in one call to
// Config.Commit; with none, it does nothing. While the run still replays the
// stored journal, it does nothing: those entries are stored already. line is
// the source line of the checkpoint() call, 0 if unknown.
func (j *Journal) Checkpoint(ctx context.Context, line int) error {
	j.callMu.Lock()
	defer j.callMu.Unlock()
	if rerr := j.commit(ctx, line); rerr != nil {
		return rerr
	}
	return nil
}

// commit commits the pending entries. callMu is held.
func (j *Journal) commit(ctx context.Context, line int) *fnrun.RunError {
	j.mu.Lock()
	fatal := j.fatal
	pending := slices.Clone(j.live[j.committed:])
	j.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	if len(pending) == 0 {
		return nil
	}
	if j.cfg.Commit == nil {
		return j.fail(&fnrun.RunError{
			Kind: fnrun.KindInternal, Line: line,
			Message: "journal: cannot checkpoint: Config.Commit is nil",
		})
	}
	if err := j.cfg.Commit(ctx, pending, line); err != nil {
		rerr, ok := errors.AsType[*fnrun.RunError](err)
		if !ok {
			rerr = &fnrun.RunError{
				Kind: fnrun.KindInternal, Line: line,
				Message: fmt.Sprintf("journal: checkpoint of effects #%d to #%d failed: %v", pending[0].Seq, pending[len(pending)-1].Seq, err),
			}
		}
		return j.fail(rerr)
	}
	j.mu.Lock()
	j.committed += len(pending)
	j.mu.Unlock()
	return nil
}

// fail makes err the journal's fatal error, returned by every later call.
func (j *Journal) fail(err *fnrun.RunError) *fnrun.RunError {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fatal == nil {
		j.fatal = err
	}
	return j.fatal
}

// Pending returns the live entries not yet committed: the worker stores
// them with the result.
func (j *Journal) Pending() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.live[j.committed:])
}

// Replaying reports whether the run is still inside the stored journal: the
// next call will be replayed.
func (j *Journal) Replaying() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next < len(j.cfg.Replay)
}

// Len returns the number of calls made so far in this run, replayed or
// live: the seq of the next call.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next
}

// Finish checks, after the run returned, that it replayed the whole stored
// journal. A run that ends with stored entries left made fewer calls than
// the run that stored them: Finish returns a *fnrun.RunError of Kind
// KindNondeterminism naming the first entry left. Otherwise it returns the
// journal's fatal error, if any.
func (j *Journal) Finish() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fatal != nil {
		return j.fatal
	}
	if j.next >= len(j.cfg.Replay) {
		return nil
	}
	e := j.cfg.Replay[j.next]
	j.fatal = &fnrun.RunError{
		Kind: KindNondeterminism,
		Message: fmt.Sprintf("non-determinism at effect #%d: the journal has %s%s but this run returned without calling it (%d stored effects not replayed); "+
			"was the function changed, or does it depend on something outside the journal?",
			j.next, e.Name, atLine(e.Line), len(j.cfg.Replay)-j.next),
	}
	return j.fatal
}

// callLine returns the source line of call, 0 if unknown.
func callLine(call fnrun.Call) int {
	return max(call.Line, 0)
}
