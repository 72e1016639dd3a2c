package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/powny/powny/platform/client"
)

// Environment variables read by the client commands.
const (
	envURL     = "POWNY_URL"
	envToken   = "POWNY_TOKEN"
	envDataDir = "POWNY_DATA_DIR"
)

// unauthorizedHint follows the message of a 401.
const unauthorizedHint = " (set --token, " + envToken + " or the token file in the data dir)"

// tokenFile is the name of the file in the data dir that holds the API token.
const tokenFile = "token"

// clientEnv is what the client commands take from the process; tests replace it.
type clientEnv struct {
	getenvFunc  func(string) string
	dataDirFunc func() string // the default data dir, when POWNY_DATA_DIR is unset
	nowFunc     func() time.Time
	location    *time.Location // for the times printed
	httpClient  *http.Client   // nil: the client package's default
}

// addClientCommands adds the commands that talk to a Powny API (deploy,
// invoke, functions, jobs) to root. They print to out, and their diagnostics
// to root's error writer.
func addClientCommands(root *cobra.Command, out io.Writer) {
	addClientCommandsEnv(root, out, clientEnv{
		getenvFunc:  os.Getenv,
		dataDirFunc: DefaultDataDir,
		nowFunc:     time.Now,
		location:    time.Local,
	})
}

func addClientCommandsEnv(root *cobra.Command, out io.Writer, ce clientEnv) {
	root.AddCommand(
		newDeployCommand(out, ce),
		newInvokeCommand(out, ce),
		newFunctionsCommand(out, ce),
		newJobsCommand(out, ce),
		newReplayCommand(out, ce),
		newSystemCommand(out, ce),
		newEventsCommand(out, ce),
		newEnvCommand(out, ce),
		newSecretsCommand(out, ce),
	)
}

// clientOpts are the settings every client command shares: where the API is,
// how to authenticate and how to print.
type clientOpts struct {
	// URL is the API's base URL. Default: $POWNY_URL, else client.DefaultURL.
	URL string
	// Token is the bearer token. Default: $POWNY_TOKEN, else the content of
	// the file "token" in the data dir ($POWNY_DATA_DIR or DefaultDataDir()),
	// else none.
	Token string
	// JSON prints the API's JSON documents instead of text.
	JSON bool

	env clientEnv
}

// newClientOpts registers the client flags as persistent flags of cmd.
func newClientOpts(cmd *cobra.Command, ce clientEnv) *clientOpts {
	o := &clientOpts{env: ce}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.URL, "url", "", "API base URL (env "+envURL+"; default "+client.DefaultURL+")")
	pf.StringVar(&o.Token, "token", "", "API bearer token (env "+envToken+"; default: the file "+tokenFile+" in the data dir)")
	pf.BoolVar(&o.JSON, "json", false, "print the API's JSON documents instead of text")
	return o
}

func (o *clientOpts) baseURL() string {
	return cmp.Or(o.URL, o.env.getenvFunc(envURL), client.DefaultURL)
}

// Validate checks the API URL.
func (o *clientOpts) Validate() error {
	raw := o.baseURL()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url: %q is not an http:// or https:// URL", raw)
	}
	return nil
}

// client returns a client of the API, with the token found.
func (o *clientOpts) client() (*client.Client, error) {
	token := cmp.Or(o.Token, o.env.getenvFunc(envToken))
	if token == "" {
		dir := o.env.getenvFunc(envDataDir)
		if dir == "" && o.env.dataDirFunc != nil {
			dir = o.env.dataDirFunc()
		}
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, tokenFile))
			switch {
			case err == nil:
				token = strings.TrimSpace(string(b))
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("read token: %w", err)
			}
		}
	}
	return client.New(o.baseURL(), token, o.env.httpClient), nil
}

// apiError is an error of the API as the commands report it: the problem's
// detail with where it is, without the status.
type apiError struct {
	msg string
	err error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// lineColumnPrefixRE matches the position the API puts before a message.
var lineColumnPrefixRE = regexp.MustCompile(`^line \d+(, column \d+)?: `) //nolint:gochecknoglobals // a compiled constant

// problemMessage returns the problem's detail without a position prefix.
func problemMessage(p *client.ProblemError) string {
	msg := cmp.Or(p.Detail, p.Title, strings.ToLower(http.StatusText(p.Status)), "request failed")
	return lineColumnPrefixRE.ReplaceAllString(msg, "")
}

// describe turns an error of the client into the error a command returns:
// a problem becomes its detail with field, line and column when known.
func describe(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Errorf("cannot reach the API (check --url or %s): %w", envURL, err)
	}
	var p *client.ProblemError
	if !errors.As(err, &p) {
		return err
	}
	msg := problemMessage(p)
	var where []string
	if p.Field != "" {
		where = append(where, "field "+p.Field)
	}
	if p.Line > 0 {
		pos := fmt.Sprintf("line %d", p.Line)
		if p.Column > 0 {
			pos += fmt.Sprintf(", column %d", p.Column)
		}
		where = append(where, pos)
	}
	if p.Limit > 0 && p.Status == http.StatusRequestEntityTooLarge {
		where = append(where, fmt.Sprintf("limit %d bytes", p.Limit))
	}
	if len(where) > 0 {
		msg = strings.Join(where, ", ") + ": " + msg
	}
	if p.Status == http.StatusUnauthorized {
		msg += unauthorizedHint
	}
	return &apiError{msg: msg, err: err}
}
