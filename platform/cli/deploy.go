package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/client"
	"github.com/powny/powny/platform/fnrun"
)

// risorExt is the extension of function files.
const risorExt = ".risor"

// deployOpts are the options of `powny deploy`.
type deployOpts struct {
	*clientOpts

	// Paths are .risor files and directories (every *.risor directly in it).
	Paths []string
	// Name overrides the function name of a single file. Default: the file
	// name without .risor.
	Name string
	// Author is recorded with each new version. Default: $USER, else "cli".
	Author string
}

// Validate checks the options.
func (o *deployOpts) Validate() error {
	if err := o.clientOpts.Validate(); err != nil {
		return err
	}
	if len(o.Paths) == 0 {
		return errors.New("give at least one .risor file or directory")
	}
	if o.Name != "" {
		if len(o.Paths) != 1 {
			return errors.New("--name needs exactly one file")
		}
		if !fnrun.ValidFunctionName(o.Name) {
			return fmt.Errorf("--name: invalid function name %q (letters, digits, _ and -, at most 128)", o.Name)
		}
	}
	return nil
}

// deployResult is one file's outcome; it is also the --json form.
type deployResult struct {
	Path     string          `json:"path"`
	Function string          `json:"function,omitempty"`
	Created  bool            `json:"created"`
	Version  *client.Version `json:"version,omitempty"`
	Error    *deployError    `json:"error,omitempty"`
}

// deployError is why a file was not deployed.
type deployError struct {
	Message string `json:"message"`
	Type    string `json:"type,omitempty"`
	Status  int    `json:"status,omitempty"`
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// diagnostic formats the failure of path like a compiler: path:line:column: message.
func (e *deployError) diagnostic(path string) string {
	pos := path
	if e.Line > 0 {
		pos += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			pos += fmt.Sprintf(":%d", e.Column)
		}
	}
	return pos + ": " + e.Message
}

func newDeployError(err error) *deployError {
	var p *client.ProblemError
	if !errors.As(err, &p) {
		return &deployError{Message: describe(err).Error()}
	}
	msg := problemMessage(p)
	if p.Field != "" {
		msg = "field " + p.Field + ": " + msg
	}
	if p.Status == http.StatusUnauthorized {
		msg += unauthorizedHint
	}
	return &deployError{Message: msg, Type: p.Type, Status: p.Status, Field: p.Field, Line: p.Line, Column: p.Column}
}

func newDeployCommand(out io.Writer, ce clientEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy PATH...",
		Short: "Deploy functions from .risor files or directories",
		Long: `Deploy uploads each .risor file as a new version of the function named after
the file (without .risor) and makes it active. A directory deploys every
*.risor file directly in it. Compile errors are printed as path:line:column:
message; every file is tried, and the command fails if one failed.

With --json it prints {"deployments": [{"path", "function", "created",
"version", "error"}]}.`,
		Args: cobra.MinimumNArgs(1),
	}
	opts := &deployOpts{clientOpts: newClientOpts(cmd, ce)}
	cmd.Flags().StringVar(&opts.Name, "name", "", "function name for a single file (default: the file name without "+risorExt+")")
	cmd.Flags().StringVar(&opts.Author, "author", "", `author recorded with new versions (default $USER, else "cli")`)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Paths = args
		if err := opts.Validate(); err != nil {
			return err
		}
		cmd.SilenceUsage = true
		return opts.run(cmd.Context(), out, cmd.ErrOrStderr())
	}
	return cmd
}

// deployFile is one file to deploy.
type deployFile struct {
	path, name string
}

// files expands the paths into the files to deploy; paths that give none are
// returned as failed results.
func (o *deployOpts) files() ([]deployFile, []deployResult) {
	var (
		files  []deployFile
		failed []deployResult
	)
	for _, path := range o.Paths {
		info, err := os.Stat(path)
		if err != nil {
			failed = append(failed, deployResult{Path: path, Error: &deployError{Message: statMessage(err)}})
			continue
		}
		if !info.IsDir() {
			files = append(files, deployFile{path: path, name: cmp.Or(o.Name, strings.TrimSuffix(filepath.Base(path), risorExt))})
			continue
		}
		if o.Name != "" {
			failed = append(failed, deployResult{Path: path, Error: &deployError{Message: "--name needs a file, not a directory"}})
			continue
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			failed = append(failed, deployResult{Path: path, Error: &deployError{Message: statMessage(err)}})
			continue
		}
		found := 0
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), risorExt) {
				continue
			}
			files = append(files, deployFile{path: filepath.Join(path, e.Name()), name: strings.TrimSuffix(e.Name(), risorExt)})
			found++
		}
		if found == 0 {
			failed = append(failed, deployResult{Path: path, Error: &deployError{Message: "no " + risorExt + " files in directory"}})
		}
	}
	return files, failed
}

// statMessage words a file system error without repeating the path.
func statMessage(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (o *deployOpts) run(ctx context.Context, out, diag io.Writer) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	author := cmp.Or(o.Author, o.env.getenvFunc("USER"), "cli")
	files, results := o.files()
	// Diagnostics are best effort: a deploy goes on when diag cannot be
	// written to, and the returned error still counts the failures.
	for _, r := range results {
		_, _ = fmt.Fprintln(diag, r.Error.diagnostic(r.Path))
	}
	for _, f := range files {
		r := deployResult{Path: f.path, Function: f.name}
		if err := deployOne(ctx, c, f, author, &r); err != nil {
			r.Error = newDeployError(err)
			_, _ = fmt.Fprintln(diag, r.Error.diagnostic(f.path))
		}
		results = append(results, r)
	}

	if o.JSON {
		if err := writeJSON(out, map[string]any{"deployments": results}); err != nil {
			return err
		}
	} else if err := writeDeployTable(out, results); err != nil {
		return err
	}

	failed := 0
	for _, r := range results {
		if r.Error != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d deployments failed", failed, len(results))
	}
	return nil
}

// deployOne deploys one file and fills r.
func deployOne(ctx context.Context, c *client.Client, f deployFile, author string, r *deployResult) error {
	if !fnrun.ValidFunctionName(f.name) {
		return fmt.Errorf("invalid function name %q (letters, digits, _ and -, at most 128; use --name)", f.name)
	}
	source, err := os.ReadFile(f.path)
	if err != nil {
		return errors.New(statMessage(err))
	}
	v, created, err := c.Deploy(ctx, f.name, source, author)
	if err != nil {
		return err
	}
	r.Version, r.Created = &v, created
	return nil
}

func writeDeployTable(out io.Writer, results []deployResult) error {
	ok := 0
	for _, r := range results {
		if r.Error == nil {
			ok++
		}
	}
	if ok == 0 {
		return nil
	}
	tw := newTable(out)
	writeRow(tw, "FUNCTION", "VERSION", "STATUS", "SHA256")
	for _, r := range results {
		if r.Error != nil {
			continue
		}
		status := "unchanged"
		if r.Created {
			status = "created"
		}
		writeRow(tw, cmp.Or(r.Version.Function, r.Function), fmt.Sprint(r.Version.Number), status, shortSHA(r.Version.SHA256))
	}
	return flush(tw)
}
