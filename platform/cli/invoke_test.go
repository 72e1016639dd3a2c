package cli

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const succeededJSON = `{"id": 42, "function": "hello", "version": 3, "trigger": "http", "state": "succeeded",
	"input": {"name": "x"}, "result": {"greeting": "hello, x", "n": [1, 2]}, "attempts": 1, "max_attempts": 1,
	"worker": "worker-ab12", "created_at": "2025-01-02T03:04:05Z", "started_at": "2025-01-02T03:04:05.1Z",
	"finished_at": "2025-01-02T03:04:05.35Z"}`

const failedJSON = `{"id": 42, "function": "hello", "version": 3, "trigger": "http", "state": "failed",
	"input": null, "error": {"kind": "runtime", "message": "division by zero", "line": 7},
	"attempts": 3, "max_attempts": 3, "created_at": "2025-01-02T03:04:05Z"}`

func TestInvoke(t *testing.T) {
	t.Parallel()

	t.Run("Succeeded", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK, succeededJSON)})

		res := b.run(t, "", "invoke", "hello", `{"name": "x"}`, "--idempotency-key", "k1")
		require.NoError(t, res.err)
		// Equal, not JSONEq: the indentation is what is tested.
		require.Equal(t, "{\n  \"greeting\": \"hello, x\",\n  \"n\": [\n    1,\n    2\n  ]\n}\n", res.stdout) //nolint:testifylint // encoded-compare

		got := b.last(t)
		require.JSONEq(t, `{"name": "x"}`, got.Body)
		require.Equal(t, "wait=30s", got.Query)
		require.Equal(t, "k1", got.Header.Get("Idempotency-Key"))
	})

	t.Run("DefaultInputIsNull", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK, succeededJSON)})

		res := b.run(t, "", "invoke", "hello", "--wait", "2m")
		require.NoError(t, res.err)
		require.Equal(t, "null", b.last(t).Body)
		require.Equal(t, "wait=2m0s", b.last(t).Query)
	})

	t.Run("Stdin", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK, succeededJSON)})

		res := b.run(t, "[1,\n 2]\n", "invoke", "hello", "-")
		require.NoError(t, res.err)
		require.Equal(t, "[1,\n 2]\n", b.last(t).Body)
	})

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK, failedJSON)})

		res := b.run(t, "", "invoke", "hello")
		require.EqualError(t, res.err, "invocation 42 failed: runtime: division by zero (line 7)")
		require.Empty(t, res.stdout)
	})

	t.Run("Cancelled", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK,
			`{"id": 42, "state": "cancelled", "error": {"kind": "cancelled", "message": "cancelled by a client"}}`)})

		res := b.run(t, "", "invoke", "hello")
		require.EqualError(t, res.err, "invocation 42 was cancelled: cancelled: cancelled by a client")
	})

	t.Run("NotFinished", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusAccepted,
			`{"id": 43, "function": "hello", "version": 3, "state": "queued", "input": null, "created_at": "2025-01-02T03:04:05Z"}`)})

		res := b.run(t, "", "invoke", "hello", "--wait", "0")
		require.NoError(t, res.err)
		require.Equal(t, "invocation 43 is queued; see: powny jobs show 43\n", res.stdout)
		require.Empty(t, b.last(t).Query)
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK, succeededJSON)})

		res := b.run(t, "", "invoke", "hello", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, succeededJSON, res.stdout)
	})

	t.Run("JSONFailed", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerJSON(http.StatusOK, failedJSON)})

		res := b.run(t, "", "invoke", "hello", "--json")
		require.EqualError(t, res.err, "invocation 42 failed: runtime: division by zero (line 7)")
		requireJSONOutput(t, failedJSON, res.stdout)
	})

	t.Run("UnknownFunction", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/nope/invoke": answerProblem(http.StatusNotFound,
			`{"type": "urn:powny:problem:not-found", "title": "Not found", "status": 404, "detail": "unknown function \"nope\""}`)})

		res := b.run(t, "", "invoke", "nope")
		require.EqualError(t, res.err, `unknown function "nope"`)
	})

	t.Run("InputTooLarge", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answerProblem(http.StatusRequestEntityTooLarge,
			`{"type": "urn:powny:problem:too-large", "title": "Request body too large", "status": 413,
			  "detail": "input over the limit", "limit": 1048576}`)})

		res := b.run(t, "", "invoke", "hello", "1")
		require.EqualError(t, res.err, "limit 1048576 bytes: input over the limit")
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, nil)

		res := b.run(t, "", "invoke", "hello", "{\"name\": \"x\",\n \"n\": 1,,}")
		require.EqualError(t, res.err,
			"invalid JSON input: line 2, column 9: invalid character ',' looking for beginning of object key string")

		res = b.run(t, "{oops", "invoke", "hello", "-")
		require.EqualError(t, res.err,
			"invalid JSON input: line 1, column 2: invalid character 'o' looking for beginning of object key string")

		res = b.run(t, "", "invoke", "hello world")
		require.EqualError(t, res.err, `invalid function name "hello world" (letters, digits, _ and -, at most 128)`)

		res = b.run(t, "", "invoke", "hello", "--wait", "11m")
		require.EqualError(t, res.err, "--wait: 11m0s is not between 0 and 10m0s")

		res = b.run(t, "", "invoke", "hello", "--wait", "-1s")
		require.EqualError(t, res.err, "--wait: -1s is not between 0 and 10m0s")

		res = b.run(t, "", "invoke")
		require.EqualError(t, res.err, "accepts between 1 and 2 arg(s), received 0")

		require.Empty(t, b.sent())
	})
}
