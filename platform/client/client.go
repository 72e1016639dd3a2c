package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultURL is where a local Powny API listens by default.
const DefaultURL = "http://127.0.0.1:8080"

// DefaultTimeout bounds each request of a Client built with a nil *http.Client;
// Invoke adds the wait it asks for.
const DefaultTimeout = 30 * time.Second

// maxAnswerBytes bounds the size of a successful answer.
const maxAnswerBytes = 64 << 20

// Client talks to one Powny API. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	http    *http.Client
	timeout time.Duration // per request on top of any wait; 0 = none
}

// New returns a client of the API at baseURL (like "http://127.0.0.1:8080")
// that authenticates with the bearer token (none when empty). With a nil
// httpClient, it uses its own whose requests are bounded by DefaultTimeout.
func New(baseURL, token string, httpClient *http.Client) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
	if c.http == nil {
		c.http = &http.Client{}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			c.http.Transport = t.Clone()
		}
		c.timeout = DefaultTimeout
	}
	return c
}

// request is one call of the API.
type request struct {
	method      string
	path        string // escaped
	query       url.Values
	body        []byte
	contentType string
	header      http.Header
	wait        time.Duration // added to the client's timeout
	noAuth      bool
}

// do sends r, decodes a 2xx answer into out (unless nil) and returns its
// status. Other answers become a *ProblemError.
func (c *Client) do(ctx context.Context, r request, out any) (int, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout+r.wait)
		defer cancel()
	}
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "powny-client")
	if c.token != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err //nolint:wrapcheck // *url.Error already names the method and URL
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, readProblem(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode answer of %s %s: %w", r.method, r.path, err)
	}
	return resp.StatusCode, nil
}

func functionPath(name string, rest ...string) string {
	p := "/v1/functions/" + url.PathEscape(name)
	for _, s := range rest {
		p += "/" + s
	}
	return p
}

func invocationPath(id int64, rest ...string) string {
	p := "/v1/invocations/" + strconv.FormatInt(id, 10)
	for _, s := range rest {
		p += "/" + s
	}
	return p
}

// Deploy uploads source as a new version of the function name and makes it
// active. created is false when the same source had been deployed before (that
// version is active again). author may be empty (the API records "api").
func (c *Client) Deploy(ctx context.Context, name string, source []byte, author string) (Version, bool, error) {
	var v Version
	r := request{
		method: http.MethodPut, path: functionPath(name), body: source,
		contentType: "text/plain; charset=utf-8", header: http.Header{},
	}
	if source == nil {
		r.body = []byte{}
	}
	if author != "" {
		r.header.Set("X-Powny-Author", author)
	}
	status, err := c.do(ctx, r, &v)
	if err != nil {
		return Version{}, false, err
	}
	return v, status == http.StatusCreated, nil
}

// ListFunctions returns every function.
func (c *Client) ListFunctions(ctx context.Context) ([]Function, error) {
	var page struct {
		Functions []Function `json:"functions"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/functions"}, &page); err != nil {
		return nil, err
	}
	return page.Functions, nil
}

// GetFunction returns the function name with the source and config of its
// active version.
func (c *Client) GetFunction(ctx context.Context, name string) (FunctionDetail, error) {
	var f FunctionDetail
	if _, err := c.do(ctx, request{method: http.MethodGet, path: functionPath(name)}, &f); err != nil {
		return FunctionDetail{}, err
	}
	return f, nil
}

// ListVersions returns the versions of the function name, newest first.
func (c *Client) ListVersions(ctx context.Context, name string) ([]Version, error) {
	var page struct {
		Versions []Version `json:"versions"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: functionPath(name, "versions")}, &page); err != nil {
		return nil, err
	}
	return page.Versions, nil
}

// GetVersion returns version n of the function name, with its source.
func (c *Client) GetVersion(ctx context.Context, name string, n int) (Version, error) {
	var v Version
	path := functionPath(name, "versions", strconv.Itoa(n))
	if _, err := c.do(ctx, request{method: http.MethodGet, path: path}, &v); err != nil {
		return Version{}, err
	}
	return v, nil
}

// Rollback activates version n of the function name, or with n = 0 the
// version before the active one, and returns the version now active.
func (c *Client) Rollback(ctx context.Context, name string, n int) (Version, error) {
	r := request{method: http.MethodPost, path: functionPath(name, "rollback")}
	if n != 0 {
		body, err := json.Marshal(map[string]int{"version": n})
		if err != nil {
			return Version{}, fmt.Errorf("encode rollback: %w", err)
		}
		r.body, r.contentType = body, "application/json"
	}
	var v Version
	if _, err := c.do(ctx, r, &v); err != nil {
		return Version{}, err
	}
	return v, nil
}

// InvokeOptions tune Invoke.
type InvokeOptions struct {
	// Wait is how long the API may wait for the invocation to finish before
	// answering (at most 10 minutes). Zero: answer at once, with the
	// invocation queued.
	Wait time.Duration
	// IdempotencyKey, when set, makes a repeated call with the same input
	// return the first invocation (at most 255 characters).
	IdempotencyKey string
}

// Invoke starts the function name with input (any JSON value; nil sends no
// body, which the API reads as null). The invocation it returns is final when
// it finished within opts.Wait; check its State.
func (c *Client) Invoke(ctx context.Context, name string, input json.RawMessage, opts InvokeOptions) (Invocation, error) {
	r := request{
		method: http.MethodPost, path: functionPath(name, "invoke"), header: http.Header{},
		wait: opts.Wait,
	}
	if len(input) > 0 {
		r.body, r.contentType = input, "application/json"
	}
	if opts.Wait > 0 {
		r.query = url.Values{"wait": {opts.Wait.String()}}
	}
	if opts.IdempotencyKey != "" {
		r.header.Set("Idempotency-Key", opts.IdempotencyKey)
	}
	var inv Invocation
	if _, err := c.do(ctx, r, &inv); err != nil {
		return Invocation{}, err
	}
	return inv, nil
}

// GetInvocation returns the invocation id with its attempt history.
func (c *Client) GetInvocation(ctx context.Context, id int64) (Invocation, error) {
	var inv Invocation
	if _, err := c.do(ctx, request{method: http.MethodGet, path: invocationPath(id)}, &inv); err != nil {
		return Invocation{}, err
	}
	return inv, nil
}

// ListOptions filter ListInvocations. Zero values do not filter.
type ListOptions struct {
	Function string
	State    string
	// Before lists invocations whose id is lower: pass the nextBefore of the
	// previous page.
	Before int64
	// Limit is the page size; 0 lets the API choose.
	Limit int
}

// ListInvocations returns a page of invocations, newest first. nextBefore is
// not 0 when there may be more: pass it as opts.Before.
func (c *Client) ListInvocations(ctx context.Context, opts ListOptions) ([]Invocation, int64, error) {
	q := url.Values{}
	if opts.Function != "" {
		q.Set("function", opts.Function)
	}
	if opts.State != "" {
		q.Set("state", opts.State)
	}
	if opts.Before != 0 {
		q.Set("before", strconv.FormatInt(opts.Before, 10))
	}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var page struct {
		Invocations []Invocation `json:"invocations"`
		NextBefore  int64        `json:"next_before"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/invocations", query: q}, &page); err != nil {
		return nil, 0, err
	}
	return page.Invocations, page.NextBefore, nil
}

// CancelInvocation cancels the queued or running invocation id and returns
// it. A finished invocation gives a *ProblemError matching ErrConflict.
func (c *Client) CancelInvocation(ctx context.Context, id int64) (Invocation, error) {
	var inv Invocation
	if _, err := c.do(ctx, request{method: http.MethodDelete, path: invocationPath(id)}, &inv); err != nil {
		return Invocation{}, err
	}
	return inv, nil
}

// Logs returns the log lines of the invocation id whose line id is above
// after, at most limit of them (0 lets the API choose), oldest first.
func (c *Client) Logs(ctx context.Context, id int64, after int64, limit int) ([]LogLine, error) {
	q := url.Values{}
	if after != 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page struct {
		Logs []LogLine `json:"logs"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: invocationPath(id, "logs"), query: q}, &page); err != nil {
		return nil, err
	}
	return page.Logs, nil
}

// Health checks that the API and its database answer. It needs no token.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz", noAuth: true}, nil)
	return err
}
