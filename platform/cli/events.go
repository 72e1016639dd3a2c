package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/client"
)

func newEventsCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event"},
		Short:   "Send events, list them and show what each started and woke",
		Args:    cobra.NoArgs,
	}
	co := newClientOpts(cmd, ce)
	cmd.AddCommand(newEventsSendCommand(out, co), newEventsLsCommand(out, co), newEventsShowCommand(out, co))
	return cmd
}

// eventsSendOpts are the options of `powny events send`.
type eventsSendOpts struct {
	*clientOpts

	// Events is a JSON object (one event) or an array of them (a batch).
	Events []byte
	// DedupKey makes a repeated send of a single event a no-op.
	DedupKey string
}

// Validate checks the options, and that Events is JSON.
func (o *eventsSendOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if len(o.DedupKey) > maxIdempotencyKey {
		return fmt.Errorf("--dedup-key: longer than %d characters", maxIdempotencyKey)
	}
	if err := checkJSON(o.Events); err != nil {
		return err
	}
	if o.DedupKey != "" && o.batch() {
		return fmt.Errorf("--dedup-key applies to a single event: give each event of a batch its own dedup_key")
	}
	return nil
}

func (o *eventsSendOpts) batch() bool {
	return bytes.HasPrefix(bytes.TrimSpace(o.Events), []byte("["))
}

func newEventsSendCommand(out io.Writer, co *clientOpts) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "send EVENT",
		Short: "Send one event, or a batch, and print what each started and woke",
		Long: `Send posts EVENT, a JSON object ("-" reads it from stdin), or a JSON array of
them (a batch, accepted all or nothing). Each event starts the functions whose
triggers (config.on) it matches, and wakes the invocations waiting for it in
wait_event(). An event with a top-level "dedup_key" (or --dedup-key) that was
sent before is acknowledged and does nothing.

With --json it prints the API's answer.`,
		Example: `  powny events send '{"host": "db-3", "service": "disk", "status": "CRIT"}'
  powny events send --dedup-key alert-1234 '{"host": "db-3", "status": "OK"}'
  powny events send - < events.json`,
		Args: cobra.ExactArgs(1),
	}
	opts := &eventsSendOpts{clientOpts: co}
	cmd.Flags().StringVar(&opts.DedupKey, "dedup-key", "", "key that makes a repeated send of this event a no-op")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if opts.Events, err = argOrStdin(cmd, args[0], "events"); err != nil {
			return err
		}
		return runWith(cmd, opts, func(ctx context.Context) error { return opts.run(ctx, out) })
	}
	return cmd
}

func (o *eventsSendOpts) run(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	var accepted []client.AcceptedEvent
	if o.batch() {
		var batch []json.RawMessage
		if err := json.Unmarshal(o.Events, &batch); err != nil {
			return fmt.Errorf("invalid JSON input: %w", err)
		}
		if accepted, err = c.SendEvents(ctx, batch); err != nil {
			return describe(err)
		}
		if o.JSON {
			return writeJSON(out, map[string]any{"events": accepted})
		}
	} else {
		one, err := c.SendEvent(ctx, o.Events, o.DedupKey)
		if err != nil {
			return describe(err)
		}
		if o.JSON {
			return writeJSON(out, one)
		}
		accepted = []client.AcceptedEvent{one}
	}
	t := newTable(out)
	writeRow(t, "EVENT", "DUPLICATE", "STARTED", "WOKE")
	for _, a := range accepted {
		writeRow(t, strconv.FormatInt(a.ID, 10), yesNo(a.Duplicate), invocationList(a.Started), invocationList(a.Woke))
	}
	return flush(t)
}

// invocationList prints invocations as "fn:42 other:43", or "-".
func invocationList(invs []client.EventInvocation) string {
	if len(invs) == 0 {
		return "-"
	}
	parts := make([]string, len(invs))
	for i, inv := range invs {
		parts[i] = inv.Function + ":" + strconv.FormatInt(inv.Invocation, 10)
	}
	return strings.Join(parts, " ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// eventsLsOpts are the options of `powny events ls`.
type eventsLsOpts struct {
	*clientOpts

	// Limit is the page size. Default 0: the API's.
	Limit int
	// Before lists events older than this id. Default 0: the newest.
	Before int64
}

// Validate checks the options.
func (o *eventsLsOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if o.Limit < 0 || o.Limit > maxListLimit {
		return fmt.Errorf("--limit: %d is not between 0 and %d", o.Limit, maxListLimit)
	}
	if o.Before < 0 {
		return errors.New("--before: an event id is a positive number")
	}
	return nil
}

func newEventsLsCommand(out io.Writer, co *clientOpts) *cobra.Command {
	opts := &eventsLsOpts{clientOpts: co}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List events, newest first",
		Long: `List events, newest first: ID RECEIVED STARTED WOKE DEDUP KEY BODY. When there
may be more, the last line gives the --before that lists the next page. With
--json it prints {"events": [...], "next_before": ID}.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "page size (default: the API's)")
	cmd.Flags().Int64Var(&opts.Before, "before", 0, "only events with a lower id (the next page)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runWith(cmd, opts, func(ctx context.Context) error { return opts.run(ctx, out) })
	}
	return cmd
}

// maxBodyCell is how much of an event's body a table shows.
const maxBodyCell = 60

func (o *eventsLsOpts) run(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	evs, next, err := c.ListEvents(ctx, o.Before, o.Limit)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		page := struct {
			Events     []client.Event `json:"events"`
			NextBefore int64          `json:"next_before,omitempty"`
		}{evs, next}
		if page.Events == nil {
			page.Events = []client.Event{}
		}
		return writeJSON(out, page)
	}
	t := newTable(out)
	writeRow(t, "ID", "RECEIVED", "STARTED", "WOKE", "DEDUP KEY", "BODY")
	for _, e := range evs {
		body := string(e.Body)
		if r := []rune(body); len(r) > maxBodyCell {
			body = string(r[:maxBodyCell]) + "…"
		}
		writeRow(t, strconv.FormatInt(e.ID, 10), formatTime(e.ReceivedAt, o.env.location),
			strconv.Itoa(e.Started), strconv.Itoa(e.Woke), orDash(e.DedupKey), body)
	}
	if err := flush(t); err != nil {
		return err
	}
	if next != 0 {
		return writef(out, "more: powny events ls --before %d\n", next)
	}
	return nil
}

// eventShowOpts are the options of `powny events show`.
type eventShowOpts struct {
	*clientOpts

	// ID is the event.
	ID int64
}

// Validate checks the options.
func (o *eventShowOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if o.ID <= 0 {
		return errors.New("an event id is a positive integer")
	}
	return nil
}

func newEventsShowCommand(out io.Writer, co *clientOpts) *cobra.Command {
	opts := &eventShowOpts{clientOpts: co}
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an event: its body, and the invocations it started and woke",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("invalid event id %q: want a positive integer", args[0])
			}
			opts.ID = id
			return runWith(cmd, opts, func(ctx context.Context) error { return opts.run(ctx, out) })
		},
	}
}

func (o *eventShowOpts) run(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	e, err := c.GetEvent(ctx, o.ID)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, e)
	}
	t := newTable(out)
	writeRow(t, "ID:", strconv.FormatInt(e.ID, 10))
	writeRow(t, "Received:", formatTime(e.ReceivedAt, o.env.location))
	writeRow(t, "Dedup key:", orDash(e.DedupKey))
	writeRow(t, "Started:", invocationList(e.StartedInvocations))
	writeRow(t, "Woke:", invocationList(e.WokeInvocations))
	if err := flush(t); err != nil {
		return err
	}
	return writef(out, "Body:\n  %s\n", prettyJSON(e.Body, "  "))
}
