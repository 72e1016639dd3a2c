package fnrun

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompile(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		source  string
		line    int
		column  int
		message string // a substring of SourceError.Message
	}{
		{name: "SyntaxError", source: "func main() {\n  x := \n}", line: 2, column: 8, message: "assignment is missing a value"},
		{name: "UnexpectedToken", source: "func main() {\n  return 1 2\n}", line: 2, column: 10, message: "unexpected token"},
		{name: "UnknownName", source: "func main() {\n  return nope\n}", line: 2, column: 10, message: `undefined variable "nope"`},
		{name: "OSModule", source: "func main() {\n  return os.getenv(\"X\")\n}", line: 2, column: 10, message: `undefined variable "os" (os is not available in Powny functions`},
		{name: "Getenv", source: "func main() { getenv(\"X\") }", line: 1, column: 15, message: `undefined variable "getenv"`},
		{name: "Exec", source: "func main() { exec(\"ls\") }", line: 1, column: 15, message: `undefined variable "exec"`},
		{name: "Open", source: "func main() {\n\topen(\"/etc/passwd\")\n}", line: 2, column: 2, message: `undefined variable "open"`},
		{name: "Print", source: "func main() { print(1) }", line: 1, column: 15, message: "use log.info"},
		{name: "Fetch", source: "func main() { fetch(\"http://x\") }", line: 1, column: 15, message: "use http.get"},
		{name: "TimeModule", source: "func main() { time.now() }", line: 1, column: 15, message: "use now()"},
		{name: "RandModule", source: "func main() { rand.int() }", line: 1, column: 15, message: "use random()"},
		{name: "Spawn", source: "func main() { spawn(main) }", line: 1, column: 15, message: "without concurrency"},
		{name: "Chan", source: "func main() { make(chan) }", line: 1, column: 20, message: `undefined variable "chan"`},
		{name: "Import", source: "import json\nfunc main() {}", line: 1, column: 1, message: "import is not available"},
		{name: "ImportInFunction", source: "func main() {\n  import os\n}", line: 2, column: 3, message: "import is not available"},
		{name: "Go", source: "func f() {}\nfunc main() {\n  go f()\n}", line: 3, column: 3, message: "go statements are not available"},
		{name: "MissingMain", source: "func mian(input) { return 1 }", message: "missing func main"},
		{name: "MainAsVariable", source: "main := 1", message: "missing func main"},
		{name: "MainTwoParams", source: "x := 1\nfunc main(a, b) { return a }", line: 2, column: 1, message: "func main must take 0 or 1 parameters (input), not 2"},
		{name: "ReturnOutsideFunction", source: "return 1\nfunc main() {}", line: 1, column: 1, message: "invalid return statement outside of a function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tt.source)
			serr, ok := errors.AsType[*SourceError](err)
			require.True(t, ok, "want a *SourceError, got %v", err)
			require.Contains(t, serr.Message, tt.message)
			require.Equal(t, tt.line, serr.Line, serr.Error())
			require.Equal(t, tt.column, serr.Column, serr.Error())
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		source string
	}{
		{name: "NoInput", source: "func main() { return 1 }"},
		{name: "Input", source: "func main(input) { return input }"},
		{name: "DefaultParameter", source: "func main(input=nil) { return input }"},
		{name: "PureGlobals", source: `func main() {
  a := [len("ab"), keys({"a": 1}), sorted([2, 1]), sprintf("%d", 1), json.marshal([1]), strings.to_upper("a")]
  b := [math.abs(-1), regexp.match("a", "a"), base64.encode("a"), bytes.equal(byte_slice("a"), byte_slice("a")), strconv.atoi("1")]
  c := [errors.new("x"), errorf("x %d", 1), any([true]), all([true]), type(1), try(func() { error("x") }, 1)]
  return [a, b, c]
}`},
		{name: "EffectGlobals", source: `func main() {
  log.info(now(), random(), random(3), uuid())
  sleep(0)
  return [http.get, http.post, http.put, http.patch, http.delete, http.request]
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			compiled, err := Compile(tt.source)
			require.NoError(t, err)
			_, err = Load(compiled.Code)
			require.NoError(t, err)
		})
	}
}

func TestSourceErrorString(t *testing.T) {
	t.Parallel()

	require.Equal(t, "line 3, column 7: boom", (&SourceError{Line: 3, Column: 7, Message: "boom"}).Error())
	require.Equal(t, "boom", (&SourceError{Message: "boom"}).Error())
}

func TestGlobals(t *testing.T) {
	t.Parallel()

	r := NewRunner(RunnerConfig{})
	names := slices.Sorted(maps.Keys(r.globals))
	require.Equal(t, globalNames(), names)
	// DESIGN.md's list of Risor defaults that must not be reachable (http is
	// replaced by Powny's own module).
	for _, dropped := range []string{
		"os", "exec", "fetch", "nslookup", "cat", "cd", "cp", "ls", "open",
		"getenv", "setenv", "unsetenv", "filepath", "print", "printf", "fmt", "rand", "time", "spawn", "chan", "close",
	} {
		require.Contains(t, unavailableGlobals(), dropped)
	}
	for name := range unavailableGlobals() {
		require.NotContains(t, names, name)
	}
}
