package cli

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		input, err string
	}{
		{input: `{"a": [1, 2, {"b": null}]}`},
		{input: `"héllo"`},
		{input: `{"a": x}`, err: `invalid JSON input: line 1, column 7: invalid character 'x' looking for beginning of value`},
		{input: "{\n  \"a\": 1,\n}", err: `invalid JSON input: line 3, column 1: invalid character '}' looking for beginning of object key string`},
		{input: `{"é": 1`, err: `invalid JSON input: line 1, column 8: unexpected end of JSON input`},
		{input: "1 2", err: `invalid JSON input: line 1, column 3: invalid character '2' after top-level value`},
		{input: "", err: `invalid JSON input: line 1, column 1: unexpected end of JSON input`},
		{input: "{'a': 1}", err: `invalid JSON input: line 1, column 2: invalid character '\'' looking for beginning of object key string`},
	} {
		err := checkJSON([]byte(tc.input))
		if tc.err == "" {
			require.NoError(t, err, tc.input)
			continue
		}
		require.EqualError(t, err, tc.err, tc.input)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()

	for d, want := range map[time.Duration]string{
		-time.Second:                          "-",
		1234 * time.Nanosecond:                "1µs",
		1234567 * time.Nanosecond:             "1ms",
		345678901 * time.Nanosecond:           "346ms",
		12345678901 * time.Nanosecond:         "12.3s",
		3*time.Minute + 4567*time.Millisecond: "3m5s",
		2*time.Hour + 300*time.Millisecond:    "2h0m0s",
	} {
		require.Equal(t, want, formatDuration(d), d.String())
	}
}

func TestFormatTime(t *testing.T) {
	t.Parallel()

	ts := time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	require.Equal(t, "2025-01-02T03:04:05Z", formatTime(ts, time.UTC))
	require.Equal(t, "2025-01-02T04:04:05+01:00", formatTime(ts, time.FixedZone("CET", 3600)))
	require.Equal(t, "-", formatTime(time.Time{}, time.UTC))
	require.Equal(t, "-", formatTimePtr(nil, time.UTC))
}

func TestPrettyJSON(t *testing.T) {
	t.Parallel()

	require.Equal(t, "null", prettyJSON(nil, ""))
	require.Equal(t, "{\n  \"a\": 1\n}", prettyJSON(json.RawMessage(`{"a":1}`), ""))
	require.Equal(t, "{\n    \"a\": 1\n  }", prettyJSON(json.RawMessage(`{"a":1}`), "  "))
	require.Equal(t, "not json", prettyJSON(json.RawMessage(`not json`), ""))
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorsAreReturned(t *testing.T) {
	t.Parallel()

	tw := newTable(failingWriter{})
	writeRow(tw, "A", "B")
	writeRow(tw, "1", "2")
	require.EqualError(t, flush(tw), "write output: disk full")

	require.EqualError(t, writef(failingWriter{}, "x %d\n", 1), "write output: disk full")

	var buf strings.Builder
	tw = newTable(&buf)
	writeRow(tw, "NAME", "V")
	writeRow(tw, "hello", "3")
	require.NoError(t, flush(tw))
	require.Equal(t, "NAME   V\nhello  3\n", buf.String())
}
