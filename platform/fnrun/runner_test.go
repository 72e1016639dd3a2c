package fnrun

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/risor-io/risor/compiler"
	"github.com/risor-io/risor/parser"
	"github.com/stretchr/testify/require"
)

// runSource compiles, loads and runs source with Live effects unless opts
// say otherwise.
func runSource(t *testing.T, r *Runner, source, input string, opts RunOptions) ([]byte, error) {
	t.Helper()
	compiled, err := Compile(source)
	require.NoError(t, err)
	prog, err := Load(compiled.Code)
	require.NoError(t, err)
	if opts.Effects == nil {
		opts.Effects = Live{}
	}
	return r.Run(context.Background(), prog, []byte(input), opts)
}

func TestRun(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		source string
		input  string
		want   string
	}{
		{
			name: "Echo", source: "func main(input) { return input }",
			input: `{"a": 1, "b": 1.5, "c": [1, {"d": null}], "e": "s", "f": true, "g": -7, "h": 1e3, "i": 12345678901234}`,
			want:  `{"a": 1, "b": 1.5, "c": [1, {"d": null}], "e": "s", "f": true, "g": -7, "h": 1000, "i": 12345678901234}`,
		},
		{
			name: "IntegersStayIntegers", source: "func main(input) { return [type(input.a), type(input.b), type(input.c), input.a + 1] }",
			input: `{"a": 41, "b": 1.0, "c": 1e2}`, want: `["int", "float", "float", 42]`,
		},
		{name: "NestedData", source: `func main() {
  m := {"list": [1, 2.5, "x", nil, true], "map": {"n": {"o": [1]}}}
  m["count"] = len(m["list"])
  return m
}`, want: `{"list": [1, 2.5, "x", null, true], "map": {"n": {"o": [1]}}, "count": 5}`},
		{name: "NoInputParameter", source: "func main() { return 1 }", input: `{"ignored": true}`, want: `1`},
		{name: "EmptyInput", source: "func main(input) { return input == nil }", input: "", want: `true`},
		{name: "NullInput", source: "func main(input) { return input }", input: "null", want: `null`},
		{name: "TopLevelRunsFirst", source: "base := {\"k\": 2}\nfunc main(input) { return base.k * input }", input: "21", want: `42`},
		{name: "Set", source: "func main() { return {3, 1, 2} }", want: `[1, 2, 3]`},
		{name: "TryCatchesErrors", source: `func main() { return try(func() { error("boom") }, func(e) { return "caught " + e.message() }) }`, want: `"caught boom"`},
	}
	r := NewRunner(RunnerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runSource(t, r, tt.source, tt.input, RunOptions{})
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(out))
		})
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()

	bigList := "[" + strings.Repeat("0, ", 1100) + "0]"
	tests := []struct {
		name   string
		cfg    RunnerConfig
		source string
		input  string
		want   *RunError
	}{
		{
			name: "Error", source: "func main() {\n  return error(\"boom %d\", 1)\n}",
			want: &RunError{Kind: KindRuntime, Message: "boom 1", Line: 2, Column: 10, Builtin: "error"},
		},
		{
			name: "TypeError", source: "func main() {\n  return 1 + \"a\"\n}",
			want: &RunError{Kind: KindRuntime, Message: "type error: unsupported operation for int: + on type string"},
		},
		{
			name: "MissingAttribute", source: "func main(input) {\n  return input.nope\n}", input: `{}`,
			want: &RunError{Kind: KindRuntime, Message: `type error: attribute "nope" not found on map object`},
		},
		{
			name: "DeepRecursion", source: "func f(n) { return f(n + 1) }\nfunc main() { return f(0) }",
			want: &RunError{Kind: KindLimit, Message: "stack overflow: more than 1024 nested calls or values on the stack (deep recursion or a very large literal)"},
		},
		{
			name: "HugeLiteral", source: "func main() { return " + bigList + " }",
			want: &RunError{Kind: KindLimit, Message: "stack overflow: more than 1024 nested calls or values on the stack (deep recursion or a very large literal)"},
		},
		{
			name: "ResultNotJSON", source: "func main() { return [func() {}] }",
			want: &RunError{Kind: KindRuntime, Message: "main returned a value that cannot be encoded as JSON: type error: unable to marshal function"},
		},
		{
			name: "ResultTooLarge", cfg: RunnerConfig{MaxResult: 1000}, source: "func main() { return strings.repeat(\"x\", 1000) }",
			want: &RunError{Kind: KindLimit, Message: "main's result is 1002 bytes of JSON, more than the limit of 1000", Builtin: "strings.repeat"},
		},
		{
			name: "InvalidInput", source: "func main(input) { return input }", input: `{"a": `,
			want: &RunError{Kind: KindInternal, Message: "input is not valid JSON: unexpected EOF"},
		},
		{
			name: "TrailingInput", source: "func main(input) { return input }", input: `{} {}`,
			want: &RunError{Kind: KindInternal, Message: "input is not valid JSON: unexpected data after the JSON value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runSource(t, NewRunner(tt.cfg), tt.source, tt.input, RunOptions{})
			require.Equal(t, tt.want, err)
		})
	}
}

func TestRunErrorString(t *testing.T) {
	t.Parallel()

	require.Equal(t, "line 3, column 7: boom", (&RunError{Kind: KindRuntime, Message: "boom", Line: 3, Column: 7}).Error())
	require.Equal(t, "timed out after 1s", (&RunError{Kind: KindTimeout, Message: "timed out after 1s"}).Error())
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		source string
		want   *RunError
	}{
		{
			name: "Loop", source: "func main() { for {} }",
			want: &RunError{Kind: KindTimeout, Message: "timed out after 200ms"},
		},
		{
			name: "Sleep", source: "func main() {\n  sleep(\"10s\")\n}",
			want: &RunError{Kind: KindTimeout, Message: "timed out after 200ms", Line: 2, Column: 3, Builtin: "sleep"},
		},
		// try() swallows the interrupted sleep, but the run still times out.
		{
			name: "SwallowedByTry", source: "func main() {\n  try(func() { sleep(10) }, 1)\n  return \"done\"\n}",
			want: &RunError{Kind: KindTimeout, Message: "timed out after 200ms", Line: 2, Column: 16, Builtin: "sleep"},
		},
		// Every effect after the timeout refuses.
		{
			name: "EffectsRefuse", source: "func main() {\n  try(func() { sleep(10) }, 1)\n  for { try(now, 1) }\n}",
			want: &RunError{Kind: KindTimeout, Message: "timed out after 200ms", Line: 2, Column: 16, Builtin: "sleep"},
		},
	}
	r := NewRunner(RunnerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := runSource(t, r, tt.source, "", RunOptions{Timeout: 200 * time.Millisecond})
			require.Equal(t, tt.want, err)
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

func TestRunCanceled(t *testing.T) {
	t.Parallel()

	compiled, err := Compile("func main() { for {} }")
	require.NoError(t, err)
	prog, err := Load(compiled.Code)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err = NewRunner(RunnerConfig{}).Run(ctx, prog, nil, RunOptions{Effects: Live{}, Timeout: time.Minute})
	require.Equal(t, &RunError{Kind: KindCanceled, Message: "canceled"}, err)
}

type logLine struct{ level, message string }

type logRecorder struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *logRecorder) Log(_ context.Context, level, message string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{level, message})
	return nil
}

func TestRunLogs(t *testing.T) {
	t.Parallel()

	logs := &logRecorder{}
	_, err := runSource(t, NewRunner(RunnerConfig{MaxLogMessage: 6}), `func main(input) {
  log.info("start", 1)
  for i := 0; i < 3; i++ { log.warn("step", i) }
  log.error("héééllo")
}`, "", RunOptions{Logs: logs})
	require.NoError(t, err)
	require.Equal(t, []logLine{
		{"info", "start "}, // truncated to 6 bytes
		{"warn", "step 0"},
		{"warn", "step 1"},
		{"warn", "step 2"},
		{"error", "héé"}, // not inside a UTF-8 sequence
	}, logs.lines)

	logs = &logRecorder{}
	_, err = runSource(t, NewRunner(RunnerConfig{}), `func main() { log.info("start", 1, 2.5, true, nil, [1, "a"], {"k": "v"}) }`, "", RunOptions{Logs: logs})
	require.NoError(t, err)
	require.Equal(t, []logLine{{"info", `start 1 2.5 true nil [1, "a"] {"k": "v"}`}}, logs.lines)
}

func TestRunConcurrently(t *testing.T) {
	t.Parallel()

	compiled, err := Compile("counter := 0\nfunc main(input) {\n  counter++\n  return [input, counter, strings.to_upper(\"x\")]\n}")
	require.NoError(t, err)
	prog, err := Load(compiled.Code)
	require.NoError(t, err)
	r := NewRunner(RunnerConfig{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			out, err := r.Run(context.Background(), prog, []byte(strconv.Itoa(i)), RunOptions{Effects: Live{}})
			require.NoError(t, err)
			require.JSONEq(t, fmt.Sprintf(`[%d, 1, "X"]`, i), string(out)) // each run has its own globals
		})
	}
	wg.Wait()
}

func TestRunBadCall(t *testing.T) {
	t.Parallel()

	r := NewRunner(RunnerConfig{})
	_, err := r.Run(context.Background(), nil, nil, RunOptions{Effects: Live{}})
	require.Equal(t, &RunError{Kind: KindInternal, Message: "fnrun: Run needs a program and RunOptions.Effects"}, err)
	_, err = Load([]byte("not code"))
	require.Error(t, err)

	// Risor's own MarshalCode output lacks the call to main.
	program, err := parser.Parse(context.Background(), "func main() { return 1 }")
	require.NoError(t, err)
	code, err := compiler.Compile(program, compiler.WithGlobalNames(globalNames()))
	require.NoError(t, err)
	data, err := compiler.MarshalCode(code)
	require.NoError(t, err)
	_, err = Load(data)
	require.EqualError(t, err, "load compiled code: not made by fnrun.Compile: the program does not end by calling main")
}

func BenchmarkRun(b *testing.B) {
	compiled, err := Compile("func main(input) { return input }")
	require.NoError(b, err)
	prog, err := Load(compiled.Code)
	require.NoError(b, err)
	r := NewRunner(RunnerConfig{})
	ctx := context.Background()
	input := []byte(`{"a": 1}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(ctx, prog, input, RunOptions{Effects: Live{}}); err != nil {
			b.Fatal(err)
		}
	}
}
