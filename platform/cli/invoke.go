package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/client"
	"github.com/powny/powny/platform/fnrun"
)

// Limits of the invoke API (docs/api.md).
const (
	maxInvokeWait     = 10 * time.Minute
	maxIdempotencyKey = 255
)

// invokeOpts are the options of `powny invoke`.
type invokeOpts struct {
	*clientOpts

	// Name is the function to invoke.
	Name string
	// Input is the JSON input. Default: null.
	Input []byte
	// Wait is how long to wait for the result (at most 10m). Default 30s;
	// 0 does not wait.
	Wait time.Duration
	// IdempotencyKey makes a repeated invoke with the same input return the
	// first invocation. Default: none.
	IdempotencyKey string
}

// Validate checks the options, and that Input is JSON.
func (o *invokeOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if !fnrun.ValidFunctionName(o.Name) {
		return fmt.Errorf("invalid function name %q (letters, digits, _ and -, at most 128)", o.Name)
	}
	if o.Wait < 0 || o.Wait > maxInvokeWait {
		return fmt.Errorf("--wait: %s is not between 0 and %s", o.Wait, maxInvokeWait)
	}
	if len(o.IdempotencyKey) > maxIdempotencyKey {
		return fmt.Errorf("--idempotency-key: longer than %d characters", maxIdempotencyKey)
	}
	return checkJSON(o.Input)
}

// argOrStdin is arg, or what stdin holds when arg is "-"; what names it in
// errors.
func argOrStdin(cmd *cobra.Command, arg, what string) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	in, err := io.ReadAll(cmd.InOrStdin())
	if err != nil {
		return nil, fmt.Errorf("read %s from stdin: %w", what, err)
	}
	return in, nil
}

// checkJSON reports where data is not one JSON value.
func checkJSON(data []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(data, &v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("invalid JSON input: %w", err)
	}
	idx := int(se.Offset) - 1 // the offending byte
	if strings.HasPrefix(se.Error(), "unexpected end") {
		idx = len(data)
	}
	idx = max(0, min(idx, len(data)))
	line := 1 + bytes.Count(data[:idx], []byte("\n"))
	column := 1 + utf8.RuneCount(data[bytes.LastIndexByte(data[:idx], '\n')+1:idx])
	return fmt.Errorf("invalid JSON input: line %d, column %d: %s", line, column, se.Error())
}

func newInvokeCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invoke NAME [INPUT]",
		Short: "Invoke a function and print its result",
		Long: `Invoke starts the function NAME with INPUT, JSON text ("-" reads it from
stdin; default null), waits for it to finish and prints its result. A failed
invocation is reported with its error and exits 1. When it does not finish
within --wait, the command prints where to follow it.

With --json it prints the invocation object.`,
		Args: cobra.RangeArgs(1, 2),
	}
	opts := &invokeOpts{clientOpts: newClientOpts(cmd, ce)}
	cmd.Flags().DurationVar(&opts.Wait, "wait", 30*time.Second, "how long to wait for the result, at most 10m (0: do not wait)")
	cmd.Flags().StringVar(&opts.IdempotencyKey, "idempotency-key", "", "key that makes a repeated invoke return the first invocation")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Name = args[0]
		opts.Input = []byte("null")
		if len(args) == 2 {
			in, err := argOrStdin(cmd, args[1], "input")
			if err != nil {
				return err
			}
			if args[1] != "-" || len(bytes.TrimSpace(in)) > 0 { // empty stdin is null
				opts.Input = in
			}
		}
		if err := opts.Validate(); err != nil {
			return err
		}
		cmd.SilenceUsage = true
		return opts.run(cmd.Context(), out)
	}
	return cmd
}

func (o *invokeOpts) run(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	inv, err := c.Invoke(ctx, o.Name, o.Input, client.InvokeOptions{Wait: o.Wait, IdempotencyKey: o.IdempotencyKey})
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		if err := writeJSON(out, inv); err != nil {
			return err
		}
	}
	switch inv.State {
	case client.StateSucceeded:
		if o.JSON {
			return nil
		}
		return writef(out, "%s\n", prettyJSON(inv.Result, ""))
	case client.StateFailed, client.StateCancelled:
		return invocationFailure(inv)
	default:
		if o.JSON {
			return nil
		}
		return writef(out, "invocation %d is %s; see: powny jobs show %d\n", inv.ID, inv.State, inv.ID)
	}
}

// invocationFailure is the error of a failed or cancelled invocation, like
// "invocation 42 failed: runtime: boom (line 7)".
func invocationFailure(inv client.Invocation) error {
	verb := "failed"
	if inv.State == client.StateCancelled {
		verb = "was cancelled"
	}
	msg := fmt.Sprintf("invocation %d %s", inv.ID, verb)
	if inv.Error != nil {
		msg += ": " + formatFailure(inv.Error)
	}
	return errors.New(msg)
}

// formatFailure returns "kind: message (line N)".
func formatFailure(f *client.Failure) string {
	s := f.Message
	if f.Kind != "" {
		s = f.Kind + ": " + s
	}
	if f.Line > 0 {
		s += fmt.Sprintf(" (line %d)", f.Line)
	}
	return s
}
