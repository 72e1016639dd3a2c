package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/journal"
)

// kindEndOfJournal ends a replay that reached the end of the journal: from
// there the invocation ran (or runs) live, which a replay never does.
const kindEndOfJournal = "end-of-journal"

func newReplayCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Re-run an invocation locally from its journal, performing no effect",
		Long: `Replay fetches invocation ID's journal and the compiled code of the version
it is pinned to, and runs it here from the start: every journaled call returns
its recorded result and performs nothing. Each call is printed as it is
replayed. The replay stops at the end of the journal (where the invocation
went on live), at a durable sleep that has not ended, or when the function
returns, printing the result; a call that does not match its entry is a
non-determinism error naming both calls.`,
		Args: cobra.ExactArgs(1),
	}
	opts := &invocationOpts{clientOpts: newClientOpts(cmd, ce)}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := opts.parseID(args[0]); err != nil {
			return err
		}
		if err := opts.Validate(); err != nil {
			return err
		}
		cmd.SilenceUsage = true
		return opts.replay(cmd.Context(), out)
	}
	return cmd
}

func (o *invocationOpts) replay(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	jr, err := c.GetJournal(ctx, o.ID)
	if err != nil {
		return describe(err)
	}
	var entries []journal.Entry
	if err := json.Unmarshal(jr.Entries, &entries); err != nil {
		return fmt.Errorf("decode journal: %w", err)
	}
	prog, err := fnrun.Load(jr.Code)
	if err != nil {
		return fmt.Errorf("load code of %s version %d: %w", jr.Function, jr.Version, err)
	}
	if err := writef(out, "replaying invocation %d: %s version %d, %s, %d journaled calls\n",
		jr.ID, jr.Function, jr.Version, jr.State, len(entries)); err != nil {
		return err
	}
	j := journal.New(journal.Config{
		Replay: entries,
		OnReplay: func(e journal.Entry) {
			// Best effort: a failed write shows in the final one.
			_, _ = fmt.Fprintf(out, "#%-4d line %-4s %-14s %s\n", e.Seq, lineOf(e.Line), e.Name, entryOutcome(e))
		},
	})
	result, runErr := fnrun.NewRunner(fnrun.RunnerConfig{}).Run(ctx, prog, jr.Input, fnrun.RunOptions{
		Effects: replayOnly{j: j, entries: len(entries)},
		// kv calls name the function's namespace, as on the worker.
		KVNamespace: jr.Function,
	})
	var re *fnrun.RunError
	switch {
	case runErr == nil:
		if err := j.Finish(); err != nil {
			return err
		}
		return writef(out, "returned %s\n", result)
	case errors.As(runErr, &re) && re.Kind == kindEndOfJournal:
		return writef(out, "end of the journal at line %s: from here the invocation went on live\n", lineOf(re.Line))
	case errors.As(runErr, &re) && re.Kind == fnrun.KindSuspended:
		return writef(out, "sleeping at line %s until %s: the journal ends here\n", lineOf(re.Line), re.Until.Format(time.RFC3339))
	default:
		return fmt.Errorf("replay failed: %w", runErr)
	}
}

// replayOnly lets a journal replay but never go live: a call past the end of
// the journal stops the run. It is a Checkpointer that commits nothing, so a
// sleep that has not ended suspends rather than waits.
type replayOnly struct {
	j       *journal.Journal
	entries int
}

func (r replayOnly) Do(ctx context.Context, call fnrun.Call, perform func(context.Context) (any, error)) (any, error) {
	if r.j.Len() >= r.entries {
		return nil, &fnrun.RunError{Kind: kindEndOfJournal, Message: "end of the journal", Line: call.Line}
	}
	return r.j.Do(ctx, call, perform)
}

func (replayOnly) Checkpoint(context.Context, int) error { return nil }

func lineOf(line int) string {
	if line == 0 {
		return "?"
	}
	return strconv.Itoa(line)
}

// entryOutcome is an entry's result or error, cut to one short line.
func entryOutcome(e journal.Entry) string {
	s := "-> " + string(e.Result)
	if e.Error != "" {
		s = "error: " + e.Error
	} else if len(e.Result) == 0 {
		s = "-> nil"
	}
	const width = 100
	if len(s) > width {
		s = s[:width] + "..."
	}
	return s
}
