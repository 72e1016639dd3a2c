package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/fnrun"
)

func newFunctionsCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "functions",
		Aliases: []string{"function", "fn"},
		Short:   "List and inspect deployed functions, and roll them back",
		Args:    cobra.NoArgs,
	}
	co := newClientOpts(cmd, ce)
	cmd.AddCommand(
		newFunctionsLsCommand(out, co),
		newFunctionsShowCommand(out, co),
		newFunctionsVersionsCommand(out, co),
		newFunctionsRollbackCommand(out, co),
	)
	return cmd
}

// functionNameOpts are the options of the functions subcommands that take a NAME.
type functionNameOpts struct {
	*clientOpts

	// Name is the function.
	Name string
}

// Validate checks the options.
func (o *functionNameOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if !fnrun.ValidFunctionName(o.Name) {
		return fmt.Errorf("invalid function name %q (letters, digits, _ and -, at most 128)", o.Name)
	}
	return nil
}

// runWith validates opts and runs run with SilenceUsage set: past validation,
// an error is not a usage error.
func runWith(cmd *cobra.Command, opts interface{ Validate() error }, run func(context.Context) error) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	cmd.SilenceUsage = true
	return run(cmd.Context())
}

func newFunctionsLsCommand(out io.Writer, co *clientOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List functions: NAME ACTIVE VERSIONS UPDATED",
		Long:    `List functions. With --json it prints {"functions": [...]}.`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWith(cmd, co, func(ctx context.Context) error { return functionsLs(ctx, out, co) })
		},
	}
}

func functionsLs(ctx context.Context, out io.Writer, o *clientOpts) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	fns, err := c.ListFunctions(ctx)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, map[string]any{"functions": fns})
	}
	tw := newTable(out)
	writeRow(tw, "NAME", "ACTIVE", "VERSIONS", "UPDATED")
	for _, f := range fns {
		writeRow(tw, f.Name, fmt.Sprint(f.ActiveVersion), fmt.Sprint(f.Versions), formatTime(f.UpdatedAt, o.env.location))
	}
	return flush(tw)
}

func newFunctionsShowCommand(out io.Writer, co *clientOpts) *cobra.Command {
	opts := &functionNameOpts{clientOpts: co}
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a function with the config and source of its active version",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runWith(cmd, opts, func(ctx context.Context) error { return opts.show(ctx, out) })
		},
	}
}

func (o *functionNameOpts) show(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	f, err := c.GetFunction(ctx, o.Name)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, f)
	}
	tw := newTable(out)
	writeRow(tw, "Name:", f.Name)
	writeRow(tw, "Active version:", fmt.Sprint(f.ActiveVersion))
	writeRow(tw, "Versions:", fmt.Sprint(f.Versions))
	writeRow(tw, "Created:", formatTime(f.CreatedAt, o.env.location))
	writeRow(tw, "Updated:", formatTime(f.UpdatedAt, o.env.location))
	if err := flush(tw); err != nil {
		return err
	}
	if err := writef(out, "Config:\n  %s\n", prettyJSON(f.Config, "  ")); err != nil {
		return err
	}
	source := f.Source
	if source != "" && !strings.HasSuffix(source, "\n") {
		source += "\n"
	}
	return writef(out, "Source:\n%s", source)
}

func newFunctionsVersionsCommand(out io.Writer, co *clientOpts) *cobra.Command {
	opts := &functionNameOpts{clientOpts: co}
	return &cobra.Command{
		Use:   "versions NAME",
		Short: "List the versions of a function, newest first: VERSION ACTIVE SHA256 AUTHOR CREATED",
		Long:  `List the versions of a function, newest first. With --json it prints {"versions": [...]}.`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runWith(cmd, opts, func(ctx context.Context) error { return opts.versions(ctx, out) })
		},
	}
}

func (o *functionNameOpts) versions(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	versions, err := c.ListVersions(ctx, o.Name)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, map[string]any{"versions": versions})
	}
	tw := newTable(out)
	writeRow(tw, "VERSION", "ACTIVE", "SHA256", "AUTHOR", "CREATED")
	for _, v := range versions {
		active := ""
		if v.Active {
			active = "*"
		}
		writeRow(tw, fmt.Sprint(v.Number), active, shortSHA(v.SHA256), orDash(v.Author), formatTime(v.CreatedAt, o.env.location))
	}
	return flush(tw)
}

// rollbackOpts are the options of `powny functions rollback`.
type rollbackOpts struct {
	functionNameOpts

	// To is the version to activate. Default 0: the one before the active one.
	To int
}

// Validate checks the options.
func (o *rollbackOpts) Validate() error {
	if err := o.functionNameOpts.Validate(); err != nil {
		return err
	}
	if o.To < 0 {
		return errors.New("--to: a version is a positive number")
	}
	return nil
}

func newFunctionsRollbackCommand(out io.Writer, co *clientOpts) *cobra.Command {
	opts := &rollbackOpts{functionNameOpts: functionNameOpts{clientOpts: co}}
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Activate an older version of a function (default: the one before the active one)",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().IntVar(&opts.To, "to", 0, "version to activate (default: the one before the active one)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Name = args[0]
		if cmd.Flags().Changed("to") && opts.To == 0 {
			return errors.New("--to: a version is a positive number")
		}
		return runWith(cmd, opts, func(ctx context.Context) error { return opts.run(ctx, out) })
	}
	return cmd
}

func (o *rollbackOpts) run(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	v, err := c.Rollback(ctx, o.Name, o.To)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, v)
	}
	return writef(out, "%s: version %d is active (sha256 %s)\n", v.Function, v.Number, shortSHA(v.SHA256))
}
