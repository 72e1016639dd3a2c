package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/fnrun"
)

// settingValueWidth is how much of an env value `env list` shows.
const settingValueWidth = 60

// maxSecretInput bounds what `secrets set` reads from stdin: more than the
// API's 64 KiB limit, so that the API names the limit.
const maxSecretInput = 1 << 20

func newEnvCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Set, list and unset the env settings functions read with env(name)",
		Args:  cobra.NoArgs,
	}
	co := newClientOpts(cmd, ce)
	cmd.AddCommand(
		newSettingSetCommand(out, co, kindEnv),
		newSettingListCommand(out, co, kindEnv),
		newSettingUnsetCommand(out, co, kindEnv),
	)
	return cmd
}

func newSecretsCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "secrets",
		Aliases: []string{"secret"},
		Short:   "Set, list and unset the secrets functions read with secret(name)",
		Args:    cobra.NoArgs,
	}
	co := newClientOpts(cmd, ce)
	cmd.AddCommand(
		newSettingSetCommand(out, co, kindSecret),
		newSettingListCommand(out, co, kindSecret),
		newSettingUnsetCommand(out, co, kindSecret),
	)
	return cmd
}

// Kinds of settings, as the commands name them.
const (
	kindEnv    = "env"
	kindSecret = "secret"
)

// settingOpts are the options of `env set|unset` and `secrets set|unset`.
type settingOpts struct {
	*clientOpts

	kind string
	// Name is the setting.
	Name string
	// Value is the value to set. For a secret, default: read from stdin.
	Value    string
	hasValue bool
	stdin    io.Reader
}

// Validate checks the options.
func (o *settingOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if !fnrun.ValidSettingName(o.Name) {
		return fmt.Errorf("invalid name %q: a letter or '_', then letters, digits or '_', at most 128 characters", o.Name)
	}
	return nil
}

func newSettingSetCommand(out io.Writer, co *clientOpts, kind string) *cobra.Command {
	opts := &settingOpts{clientOpts: co, kind: kind}
	cmd := &cobra.Command{
		Use:   "set NAME VALUE",
		Short: "Set an env setting",
		Args:  cobra.ExactArgs(2),
	}
	if kind == kindSecret {
		cmd.Use, cmd.Short = "set NAME", "Set a secret: its value is read from stdin, or given with --value"
		cmd.Long = `Set a secret. The value is read from stdin (one trailing newline removed), so
that it stays out of the shell's history:  printf %s "$TOKEN" | powny secrets set TOKEN
--value gives it on the command line instead.`
		cmd.Args = cobra.ExactArgs(1)
		cmd.Flags().StringVar(&opts.Value, "value", "", "the secret's value (default: read from stdin)")
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Name = args[0]
		opts.hasValue = kind == kindEnv || cmd.Flags().Changed("value")
		if kind == kindEnv {
			opts.Value = args[1]
		}
		opts.stdin = cmd.InOrStdin()
		return runWith(cmd, opts, func(ctx context.Context) error { return opts.set(ctx, out) })
	}
	return cmd
}

func (o *settingOpts) set(ctx context.Context, out io.Writer) error {
	if !o.hasValue {
		data, err := io.ReadAll(io.LimitReader(o.stdin, maxSecretInput))
		if err != nil {
			return fmt.Errorf("read the secret from stdin: %w", err)
		}
		if len(data) == 0 {
			return errors.New("no value: pipe it to stdin or pass --value")
		}
		value := strings.TrimSuffix(string(data), "\n")
		o.Value = strings.TrimSuffix(value, "\r")
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	var result any
	if o.kind == kindEnv {
		result, err = c.SetEnv(ctx, o.Name, o.Value)
	} else {
		result, err = c.SetSecret(ctx, o.Name, o.Value)
	}
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, result)
	}
	return writef(out, "%s %s set\n", o.kind, o.Name)
}

func newSettingListCommand(out io.Writer, co *clientOpts, kind string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List env settings: NAME VALUE UPDATED",
		Long:    `List env settings. With --json it prints {"env": [{"name", "value", "updated_at"}]}.`,
		Args:    cobra.NoArgs,
	}
	if kind == kindSecret {
		cmd.Short = "List secrets: NAME UPDATED (never their values)"
		cmd.Long = `List secrets, never their values. With --json it prints {"secrets": [{"name", "updated_at"}]}.`
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runWith(cmd, co, func(ctx context.Context) error { return listSettings(ctx, out, co, kind) })
	}
	return cmd
}

func listSettings(ctx context.Context, out io.Writer, o *clientOpts, kind string) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	tw := newTable(out)
	if kind == kindEnv {
		env, err := c.ListEnv(ctx)
		if err != nil {
			return describe(err)
		}
		if o.JSON {
			return writeJSON(out, map[string]any{"env": env})
		}
		writeRow(tw, "NAME", "VALUE", "UPDATED")
		for _, v := range env {
			writeRow(tw, v.Name, displayValue(v.Value), formatTime(v.UpdatedAt, o.env.location))
		}
		return flush(tw)
	}
	secrets, err := c.ListSecrets(ctx)
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, map[string]any{"secrets": secrets})
	}
	writeRow(tw, "NAME", "UPDATED")
	for _, s := range secrets {
		writeRow(tw, s.Name, formatTime(s.UpdatedAt, o.env.location))
	}
	return flush(tw)
}

// displayValue shows a value on one table cell: quoted when it has spaces
// or control characters, cut when long.
func displayValue(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		v = strconv.Quote(v)
	}
	if len(v) > settingValueWidth {
		v = truncateRunes(v, settingValueWidth-3) + "..."
	}
	return v
}

// truncateRunes cuts s to at most n bytes without splitting a character.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if i > n {
			break
		}
		cut = i
	}
	return s[:cut]
}

func newSettingUnsetCommand(out io.Writer, co *clientOpts, kind string) *cobra.Command {
	opts := &settingOpts{clientOpts: co, kind: kind}
	short := "Remove an env setting"
	if kind == kindSecret {
		short = "Remove a secret"
	}
	return &cobra.Command{
		Use:     "unset NAME",
		Aliases: []string{"rm"},
		Short:   short,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return runWith(cmd, opts, func(ctx context.Context) error { return opts.unset(ctx, out) })
		},
	}
}

func (o *settingOpts) unset(ctx context.Context, out io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	if o.kind == kindEnv {
		err = c.UnsetEnv(ctx, o.Name)
	} else {
		err = c.UnsetSecret(ctx, o.Name)
	}
	if err != nil {
		return describe(err)
	}
	if o.JSON {
		return writeJSON(out, map[string]any{"name": o.Name, "unset": true})
	}
	return writef(out, "%s %s unset\n", o.kind, o.Name)
}
