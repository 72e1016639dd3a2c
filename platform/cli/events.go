package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/client"
)

func newEventsCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Send events",
	}
	cmd.AddCommand(newEventsSendCommand(out, ce))
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

func newEventsSendCommand(out io.Writer, ce clientEnv) *cobra.Command {
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
	opts := &eventsSendOpts{clientOpts: newClientOpts(cmd, ce)}
	cmd.Flags().StringVar(&opts.DedupKey, "dedup-key", "", "key that makes a repeated send of this event a no-op")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Events = []byte(args[0])
		if args[0] == "-" {
			in, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("read events from stdin: %w", err)
			}
			opts.Events = in
		}
		if err := opts.Validate(); err != nil {
			return err
		}
		cmd.SilenceUsage = true
		return opts.run(cmd.Context(), out)
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
