package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/client"
	"github.com/powny/powny/platform/fnrun"
)

// logPageSize is how many log lines `jobs logs` asks for at a time.
const logPageSize = 500

// maxListLimit bounds --limit of `jobs ls`.
const maxListLimit = 1000

func newJobsCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "jobs",
		Aliases: []string{"job", "invocations"},
		Short:   "List, inspect and cancel invocations",
		Args:    cobra.NoArgs,
	}
	co := newClientOpts(cmd, ce)
	cmd.AddCommand(
		newJobsLsCommand(out, co),
		newJobsShowCommand(out, co),
		newJobsLogsCommand(out, co),
		newJobsCancelCommand(out, co),
	)
	return cmd
}

// jobsLsOpts are the options of `powny jobs ls`.
type jobsLsOpts struct {
	*clientOpts

	// Function and State filter the list. Default: all.
	Function string
	State    string
	// Limit is the page size. Default 0: the API's.
	Limit int
	// Before lists invocations older than this id. Default 0: the newest.
	Before int64
}

// Validate checks the options.
func (o *jobsLsOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if o.Function != "" && !fnrun.ValidFunctionName(o.Function) {
		return fmt.Errorf("--function: invalid function name %q", o.Function)
	}
	states := []string{client.StateQueued, client.StateRunning, client.StateSucceeded, client.StateFailed, client.StateCancelled}
	if o.State != "" && !slices.Contains(states, o.State) {
		return fmt.Errorf("--state: %q is not one of %s", o.State, strings.Join(states, ", "))
	}
	if o.Limit < 0 || o.Limit > maxListLimit {
		return fmt.Errorf("--limit: %d is not between 0 and %d", o.Limit, maxListLimit)
	}
	if o.Before < 0 {
		return errors.New("--before: an invocation id is a positive number")
	}
	return nil
}

func newJobsLsCommand(out io.Writer, co *clientOpts) *cobra.Command {
	opts := &jobsLsOpts{clientOpts: co}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List invocations, newest first",
		Long: `List invocations, newest first: ID FUNCTION VERSION STATE ATTEMPTS WORKER
CREATED DURATION. When there may be more, the last line gives the --before
that lists the next page. With --json it prints {"invocations": [...],
"next_before": ID}.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&opts.Function, "function", "", "only invocations of this function")
	f.StringVar(&opts.State, "state", "", "only invocations in this state: queued, running, succeeded, failed, cancelled")
	f.IntVar(&opts.Limit, "limit", 0, "page size (default: the API's)")
	f.Int64Var(&opts.Before, "before", 0, "only invocations with a lower id (the next page)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runWith(cmd, opts, func(ctx context.Context) error { return opts.run(ctx, out) })
	}
	return cmd
}

func (o *jobsLsOpts) run(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	invs, next, err := c.ListInvocations(ctx, client.ListOptions{Function: o.Function, State: o.State, Before: o.Before, Limit: o.Limit})
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		page := struct {
			Invocations []client.Invocation `json:"invocations"`
			NextBefore  int64               `json:"next_before,omitempty"`
		}{invs, next}
		if page.Invocations == nil {
			page.Invocations = []client.Invocation{}
		}
		return writeJSON(out, page)
	}
	tw := newTable(out)
	writeRow(tw, "ID", "FUNCTION", "VERSION", "STATE", "ATTEMPTS", "WORKER", "CREATED", "DURATION")
	for _, inv := range invs {
		writeRow(tw, strconv.FormatInt(inv.ID, 10), inv.Function, strconv.Itoa(inv.Version), inv.State,
			fmt.Sprintf("%d/%d", inv.Attempts, inv.MaxAttempts), orDash(inv.Worker),
			formatTime(inv.CreatedAt, o.env.location), o.duration(inv.StartedAt, inv.FinishedAt))
	}
	if err := flush(tw); err != nil {
		return err
	}
	if next != 0 {
		return writef(out, "more: powny jobs ls --before %d\n", next)
	}
	return nil
}

// duration is how long something ran: until finished, else until now while
// it runs; "-" when it has not started.
func (o *clientOpts) duration(started, finished *time.Time) string {
	switch {
	case started == nil:
		return "-"
	case finished != nil:
		return formatDuration(finished.Sub(*started))
	default:
		return formatDuration(o.env.nowFunc().Sub(*started))
	}
}

// invocationOpts are the options of the jobs subcommands that take an ID.
type invocationOpts struct {
	*clientOpts

	// ID is the invocation.
	ID int64
}

// parseID reads the ID argument.
func (o *invocationOpts) parseID(arg string) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("invalid invocation id %q: want a positive integer", arg)
	}
	o.ID = id
	return nil
}

// Validate checks the options.
func (o *invocationOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if o.ID <= 0 {
		return errors.New("an invocation id is a positive integer")
	}
	return nil
}

// newInvocationCommand builds a jobs subcommand that takes an invocation ID.
func newInvocationCommand(co *clientOpts, use, short string, run func(ctx context.Context, o *invocationOpts) error) *cobra.Command {
	opts := &invocationOpts{clientOpts: co}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parseID(args[0]); err != nil {
				return err
			}
			return runWith(cmd, opts, func(ctx context.Context) error { return run(ctx, opts) })
		},
	}
}

func newJobsShowCommand(out io.Writer, co *clientOpts) *cobra.Command {
	return newInvocationCommand(co, "show ID", "Show an invocation: its state, error, attempts and result",
		func(ctx context.Context, o *invocationOpts) error { return o.show(ctx, out) })
}

func (o *invocationOpts) show(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	inv, err := c.GetInvocation(ctx, o.ID)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, inv)
	}
	loc := o.env.location
	tw := newTable(out)
	writeRow(tw, "ID:", strconv.FormatInt(inv.ID, 10))
	writeRow(tw, "Function:", fmt.Sprintf("%s (version %d)", inv.Function, inv.Version))
	writeRow(tw, "State:", inv.State)
	writeRow(tw, "Trigger:", orDash(inv.Trigger))
	writeRow(tw, "Attempts:", fmt.Sprintf("%d (failures %d of %d allowed)", inv.Attempts, inv.Failures, inv.MaxAttempts))
	writeRow(tw, "Checkpoints:", checkpointSummary(inv, loc))
	if inv.WakeAt != nil {
		writeRow(tw, "Wakes at:", formatTime(*inv.WakeAt, loc))
	}
	writeRow(tw, "Worker:", orDash(inv.Worker))
	if inv.RiverJobID != 0 {
		writeRow(tw, "River job:", strconv.FormatInt(inv.RiverJobID, 10))
	}
	if inv.IdempotencyKey != "" {
		writeRow(tw, "Idempotency key:", inv.IdempotencyKey)
	}
	if inv.EventID != 0 {
		writeRow(tw, "Event:", strconv.FormatInt(inv.EventID, 10))
	}
	for _, w := range inv.Waits {
		writeRow(tw, "Wait:", waitSummary(w, loc))
	}
	writeRow(tw, "Created:", formatTime(inv.CreatedAt, loc))
	writeRow(tw, "Started:", formatTimePtr(inv.StartedAt, loc))
	writeRow(tw, "Finished:", formatTimePtr(inv.FinishedAt, loc))
	writeRow(tw, "Duration:", o.duration(inv.StartedAt, inv.FinishedAt))
	if inv.Error != nil {
		writeRow(tw, "Error:", formatFailure(inv.Error))
	}
	if err := flush(tw); err != nil {
		return err
	}
	if err := writef(out, "Input:\n  %s\n", prettyJSON(inv.Input, "  ")); err != nil {
		return err
	}
	if len(inv.History) > 0 {
		if err := writef(out, "History:\n"); err != nil {
			return err
		}
		tw := newTable(out)
		writeRow(tw, "  ATTEMPT", "WORKER", "RIVER JOB", "STARTED", "DURATION", "OUTCOME", "ERROR")
		for _, a := range inv.History {
			started := a.StartedAt
			writeRow(tw, "  "+strconv.Itoa(a.Attempt), orDash(a.Worker), strconv.FormatInt(a.RiverJobID, 10),
				formatTime(a.StartedAt, loc), o.duration(&started, a.FinishedAt), orDash(a.Outcome), orDash(oneLine(a.Error)))
		}
		if err := flush(tw); err != nil {
			return err
		}
	}
	if inv.State == client.StateSucceeded || len(inv.Result) > 0 {
		return writef(out, "Result:\n  %s\n", prettyJSON(inv.Result, "  "))
	}
	return nil
}

// checkpointSummary says how many checkpoints an invocation took, and when,
// where in the source and by which worker the last one.
func checkpointSummary(inv client.Invocation, loc *time.Location) string {
	if inv.Checkpoints == 0 {
		return "none"
	}
	s := fmt.Sprintf("%d (%d journal entries)", inv.Checkpoints, inv.JournalEntries)
	if n := len(inv.CheckpointRows); n > 0 {
		last := inv.CheckpointRows[n-1]
		where := "at the end of attempt " + strconv.Itoa(last.Attempt)
		if last.Line > 0 {
			where = "line " + strconv.Itoa(last.Line)
		}
		s += fmt.Sprintf("; last %s, %s, by %s", formatTime(last.CreatedAt, loc), where, last.Worker)
	}
	return s
}

// waitSummary describes a wait_event() call: its filter and how it stands.
func waitSummary(w client.Wait, loc *time.Location) string {
	s := string(w.Filter) + " "
	switch w.State {
	case "delivered":
		s += fmt.Sprintf("got event %d at %s", w.EventID, formatTimePtr(w.ResolvedAt, loc))
	case "timeout":
		s += "timed out at " + formatTimePtr(w.ResolvedAt, loc)
	default:
		s += "waiting until " + formatTime(w.Deadline, loc)
	}
	return s
}

// oneLine keeps the first line of s, for table cells.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func newJobsLogsCommand(out io.Writer, co *clientOpts) *cobra.Command {
	cmd := newInvocationCommand(co, "logs ID", "Print the log lines of an invocation: TIME LEVEL [attempt N] message",
		func(ctx context.Context, o *invocationOpts) error { return o.logs(ctx, out) })
	cmd.Long = `Print the log lines of an invocation, oldest first: TIME LEVEL [attempt N]
message. With --json it prints {"logs": [...]}.`
	return cmd
}

func (o *invocationOpts) logs(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	var (
		all   []client.LogLine
		after int64
	)
	for {
		page, err := c.Logs(ctx, o.ID, after, logPageSize)
		if err != nil {
			return describe(err)
		}
		all = append(all, page...)
		if len(page) < logPageSize || page[len(page)-1].ID <= after {
			break
		}
		after = page[len(page)-1].ID
	}
	if o.JSON {
		if all == nil {
			all = []client.LogLine{}
		}
		return writeJSON(out, map[string]any{"logs": all})
	}
	for _, l := range all {
		if err := writef(out, "%s %-5s [attempt %d] %s\n",
			formatTime(l.LoggedAt, o.env.location), strings.ToUpper(l.Level), l.Attempt, l.Message); err != nil {
			return err
		}
	}
	return nil
}

func newJobsCancelCommand(out io.Writer, co *clientOpts) *cobra.Command {
	return newInvocationCommand(co, "cancel ID", "Cancel a queued or running invocation",
		func(ctx context.Context, o *invocationOpts) error { return o.cancel(ctx, out) })
}

func (o *invocationOpts) cancel(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	inv, err := c.CancelInvocation(ctx, o.ID)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, inv)
	}
	if inv.State == client.StateCancelled {
		return writef(out, "invocation %d cancelled\n", inv.ID)
	}
	return writef(out, "invocation %d is %s; cancellation requested\n", inv.ID, inv.State)
}
