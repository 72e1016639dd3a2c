package fnrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/risor-io/risor/arg"
	"github.com/risor-io/risor/errz"
	"github.com/risor-io/risor/object"
	"github.com/risor-io/risor/op"
)

// httpModule is http.get, post, put, patch and delete (url, opts?) and
// http.request(method, url, opts?). opts may hold headers (map), params (map:
// the query), json (any value, sent as a JSON body), body (string) and timeout
// (duration string or seconds). Every request is one "http.request" effect.
func (r *Runner) httpModule() *object.Module {
	fns := map[string]object.Object{
		"request": object.NewBuiltin("request", withState(r.httpRequest)),
	}
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		name := strings.ToLower(method)
		fns[name] = object.NewBuiltin(name, withState(r.httpMethod(method)))
	}
	return object.NewBuiltinsModule("http", fns)
}

func (r *Runner) httpMethod(method string) stateFunc {
	name := "http." + strings.ToLower(method)
	return func(ctx context.Context, st *runState, args []object.Object) object.Object {
		if err := arg.RequireRange(name, 1, 2, args); err != nil {
			return err
		}
		return r.httpCall(ctx, st, name, method, args[0], args[1:])
	}
}

func (r *Runner) httpRequest(ctx context.Context, st *runState, args []object.Object) object.Object {
	const name = "http.request"
	if err := arg.RequireRange(name, 2, 3, args); err != nil {
		return err
	}
	method, errObj := object.AsString(args[0])
	if errObj != nil {
		return errObj
	}
	method = strings.ToUpper(method)
	if method == "" || strings.ContainsFunc(method, func(c rune) bool { return c < 'A' || c > 'Z' }) {
		return object.Errorf("value error: %s: invalid method %q", name, method)
	}
	return r.httpCall(ctx, st, name, method, args[1], args[2:])
}

func (r *Runner) httpCall(ctx context.Context, st *runState, name, method string, urlArg object.Object, opts []object.Object) object.Object {
	rawURL, errObj := object.AsString(urlArg)
	if errObj != nil {
		return errObj
	}
	req, errObj := newHTTPCall(name, method, rawURL, opts)
	if errObj != nil {
		return errObj
	}
	result, errObj := st.do(ctx, Call{Name: "http.request", Args: req.args()}, func(ctx context.Context) (any, error) {
		return r.performHTTP(ctx, name, req)
	})
	if errObj != nil {
		return errObj
	}
	resp, ok := responseFromResult(result)
	if !ok {
		return st.badResult(result)
	}
	return resp
}

// httpCall is one request, as plain data.
type httpCall struct {
	method  string
	url     string
	headers map[string]string
	body    *string
	timeout time.Duration
}

// args are the request as the effect's Call.Args.
func (c *httpCall) args() map[string]any {
	args := map[string]any{"method": c.method, "url": c.url}
	if len(c.headers) > 0 {
		headers := make(map[string]any, len(c.headers))
		for k, v := range c.headers {
			headers[k] = v
		}
		args["headers"] = headers
	}
	if c.body != nil {
		args["body"] = *c.body
	}
	if c.timeout > 0 {
		args["timeout"] = c.timeout.String()
	}
	return args
}

func newHTTPCall(name, method, rawURL string, opts []object.Object) (*httpCall, *object.Error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, object.Errorf("value error: %s: %q is not an http or https URL", name, rawURL)
	}
	c := &httpCall{method: method, headers: map[string]string{}}
	if len(opts) == 0 || opts[0] == object.Nil {
		c.url = u.String()
		return c, nil
	}
	m, errObj := object.AsMap(opts[0])
	if errObj != nil {
		return nil, errObj
	}
	items := m.Value()
	// Sorted, so that errors do not depend on map order.
	for _, key := range slices.Sorted(maps.Keys(items)) {
		value := items[key]
		switch key {
		case "headers":
			errObj = readStringMap(name, key, value, func(k, v string) { c.headers[http.CanonicalHeaderKey(k)] = v })
		case "params":
			q := u.Query()
			errObj = readParams(name, value, q)
			u.RawQuery = q.Encode()
		case "json":
			if _, hasBody := items["body"]; hasBody {
				return nil, object.Errorf("value error: %s: give either json or body, not both", name)
			}
			data, err := json.Marshal(value)
			if err != nil {
				return nil, object.Errorf("value error: %s: the json option cannot be encoded as JSON: %v", name, err)
			}
			body := string(data)
			c.body = &body
		case "body":
			body, errObj := object.AsString(value)
			if errObj != nil {
				return nil, object.Errorf("type error: %s: body must be a string (%s given)", name, value.Type())
			}
			c.body = &body
		case "timeout":
			c.timeout, errObj = durationArg(name+" timeout", value)
		default:
			return nil, object.Errorf("value error: %s: unknown option %q (known: body, headers, json, params, timeout)", name, key)
		}
		if errObj != nil {
			return nil, errObj
		}
	}
	if _, ok := items["json"]; ok && c.headers["Content-Type"] == "" {
		c.headers["Content-Type"] = "application/json"
	}
	c.url = u.String()
	return c, nil
}

func readStringMap(name, key string, value object.Object, set func(k, v string)) *object.Error {
	m, ok := value.(*object.Map)
	if !ok {
		return object.Errorf("type error: %s: %s must be a map (%s given)", name, key, value.Type())
	}
	for k, v := range m.Value() {
		s, ok := scalarString(v)
		if !ok {
			return object.Errorf("type error: %s: %s[%q] must be a string, number or bool (%s given)", name, key, k, v.Type())
		}
		set(k, s)
	}
	return nil
}

// readParams adds query parameters: scalars, or lists of them for repeated keys.
func readParams(name string, value object.Object, q url.Values) *object.Error {
	m, ok := value.(*object.Map)
	if !ok {
		return object.Errorf("type error: %s: params must be a map (%s given)", name, value.Type())
	}
	for k, v := range m.Value() {
		values := []object.Object{v}
		if list, isList := v.(*object.List); isList {
			values = list.Value()
		}
		q.Del(k)
		for _, item := range values {
			s, ok := scalarString(item)
			if !ok {
				return object.Errorf("type error: %s: params[%q] must be a string, number, bool or a list of those (%s given)", name, k, item.Type())
			}
			q.Add(k, s)
		}
	}
	return nil
}

// performHTTP does the request. Its result is plain data:
// {"status_code": int64, "headers": {name: value}, "body": string}.
func (r *Runner) performHTTP(ctx context.Context, name string, c *httpCall) (any, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if c.body != nil {
		body = strings.NewReader(*c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return nil, err
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxHTTPBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	if int64(len(data)) > r.cfg.MaxHTTPBody {
		return nil, &RunError{Kind: KindLimit, Message: fmt.Sprintf("%s: response body exceeds %d bytes", name, r.cfg.MaxHTTPBody)}
	}
	headers := make(map[string]any, len(resp.Header))
	for k, vs := range resp.Header {
		headers[k] = strings.Join(vs, ", ")
	}
	return map[string]any{"status_code": int64(resp.StatusCode), "headers": headers, "body": string(data)}, nil
}

// checkRedirect is the default client's redirect policy.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %q URL refused: only http and https are allowed", req.URL.Scheme)
	}
	return nil
}

// httpResponse is what http.* return: status_code, headers, body, ok (a 2xx
// status) and json(), which parses the body. It encodes to JSON as
// {"status_code", "headers", "body"}.
type httpResponse struct {
	statusCode int64
	headers    map[string]string
	body       string
}

const httpResponseType object.Type = "http_response"

var _ object.Object = (*httpResponse)(nil)

func responseFromResult(result any) (*httpResponse, bool) {
	m, ok := result.(map[string]any)
	if !ok {
		return nil, false
	}
	status, ok := plainInt(m["status_code"])
	body, isString := m["body"].(string)
	rawHeaders, isMap := m["headers"].(map[string]any)
	if !ok || !isString || !isMap {
		return nil, false
	}
	headers := make(map[string]string, len(rawHeaders))
	for k, v := range rawHeaders {
		if headers[k], ok = v.(string); !ok {
			return nil, false
		}
	}
	return &httpResponse{statusCode: status, headers: headers, body: body}, true
}

func (r *httpResponse) GetAttr(name string) (object.Object, bool) {
	switch name {
	case "status_code":
		return object.NewInt(r.statusCode), true
	case "headers":
		headers := make(map[string]object.Object, len(r.headers))
		for k, v := range r.headers {
			headers[k] = object.NewString(v)
		}
		return object.NewMap(headers), true
	case "body":
		return object.NewString(r.body), true
	case "ok":
		return object.NewBool(r.statusCode >= 200 && r.statusCode < 300), true
	case "json":
		return object.NewBuiltin("http_response.json", r.parseJSON), true
	}
	return nil, false
}

// parseJSON is the json() method: pure, it parses the body already received.
func (r *httpResponse) parseJSON(_ context.Context, args ...object.Object) object.Object {
	if err := arg.Require("http_response.json", 0, args); err != nil {
		return err
	}
	value, err := decodeJSON([]byte(r.body))
	if err != nil {
		return object.Errorf("value error: response body is not valid JSON: %v", err)
	}
	obj, err := toObject(value)
	if err != nil {
		return object.NewError(err)
	}
	return obj
}

func (r *httpResponse) Type() object.Type { return httpResponseType }
func (r *httpResponse) Inspect() string {
	return fmt.Sprintf("http_response(status_code=%d)", r.statusCode)
}
func (r *httpResponse) String() string { return r.Inspect() }
func (r *httpResponse) IsTruthy() bool { return true }
func (r *httpResponse) Cost() int      { return 0 }

func (r *httpResponse) Interface() any {
	return map[string]any{"status_code": r.statusCode, "headers": r.headers, "body": r.body}
}

func (r *httpResponse) MarshalJSON() ([]byte, error) {
	return json.Marshal(r.Interface())
}

func (r *httpResponse) Equals(other object.Object) object.Object {
	return object.NewBool(r == other)
}

func (r *httpResponse) SetAttr(name string, _ object.Object) error {
	return errz.TypeErrorf("type error: cannot set attribute %q of an http_response", name)
}

func (r *httpResponse) RunOperation(opType op.BinaryOpType, _ object.Object) object.Object {
	return object.TypeErrorf("type error: unsupported operation for http_response: %v", opType)
}
