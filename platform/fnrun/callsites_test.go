package fnrun

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRuntimeErrorPosition checks that an error raised by a builtin is
// reported at its call, through the call-site table.
func TestRuntimeErrorPosition(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		source  string
		line    int    // 0: no position can be told
		at      string // where the failing call starts on that line
		builtin string
	}{
		{name: "Main", source: "func main() {\n  x := 1\n  error(\"boom\")\n}", line: 3, at: "error", builtin: "error"},
		{name: "TopLevel", source: "x := 1\ny := error(\"boom\")\nfunc main() {}", line: 2, at: "error", builtin: "error"},
		{name: "Helper", source: "func helper() {\n  return error(\"boom\")\n}\nfunc main() {\n  return helper()\n}", line: 2, at: "error", builtin: "error"},
		{name: "ModuleFunction", source: "func main() {\n  return json.unmarshal(\"{\")\n}", line: 2, at: "json.unmarshal", builtin: "json.unmarshal"},
		{name: "Lambda", source: "func main() {\n  return [1].map(func(x) {\n    return error(\"boom\")\n  })\n}", line: 3, at: "error", builtin: "error"},
		{name: "MapLiteral", source: "func main() {\n  return {\"a\": len(\"x\"), \"b\": error(\"boom\"), \"c\": len(\"y\")}\n}", line: 2, at: "error", builtin: "error"},
		{name: "Pipe", source: "func main() {\n  return \"boom\" | error\n}", line: 2, at: "error", builtin: "error"},
		{name: "PipeModule", source: "func main() {\n  return \"x\" | strings.to_upper | json.unmarshal\n}", line: 2, at: "json.unmarshal", builtin: "json.unmarshal"},
		// Risor parses template expressions on their own: their calls are
		// reported at the template.
		{name: "Template", source: "func main() {\n  return 'x{len(\"a\")} {error(\"boom\")}'\n}", line: 2, at: "'x", builtin: "error"},
		{name: "ForLoop", source: "func main() {\n  for i := 0; i < 3; i++ {\n    if i == 2 { error(\"at %d\", i) }\n  }\n}", line: 3, at: "error", builtin: "error"},
		{name: "Switch", source: "func main() {\n  switch 2 {\n  case len(\"a\"):\n    return 1\n  case 2:\n    return error(\"two\")\n  }\n}", line: 6, at: "error", builtin: "error"},
		{name: "DeadCode", source: "func helper() {\n  return 1\n  len(\"dead\")\n}\nfunc main() {\n  helper()\n  error(\"boom\")\n}", line: 7, at: "error", builtin: "error"},
		// Both error calls sit at the same instruction pointer of their
		// functions: only the running code (runningCodeID) tells them apart.
		{name: "SameShapeLambdas", source: "func main() {\n  f := func() { return error(\"f\") }\n  g := func() { return error(\"g\") }\n  g()\n}", line: 3, at: "error", builtin: "error"},
		{name: "InEvaluatesRightFirst", source: "func main() {\n  return json.unmarshal(\"{\") in json.unmarshal(\"[\")\n}", line: 2, at: "json.unmarshal(\"[\")", builtin: "json.unmarshal"},
		{name: "SliceEvaluatesEndFirst", source: "func main() {\n  return [1][json.unmarshal(\"{\"):json.unmarshal(\"[\")]\n}", line: 2, at: "json.unmarshal(\"[\")", builtin: "json.unmarshal"},
		{name: "CompoundAssignment", source: "func main() {\n  m := {\"a\": 1}\n  m[strings.to_lower(\"A\")] += 1\n  error(\"boom\")\n}", line: 4, at: "error", builtin: "error"},
		{name: "Defer", source: "func main() {\n  defer len(\"x\")\n  return error(\"boom\")\n}", line: 3, at: "error", builtin: "error"},
		{name: "EffectArguments", source: "func main() {\n  now()\n  sleep(\"soon\")\n}", line: 3, at: "sleep", builtin: "sleep"},
		// Functions inside a map literal get their code in Go map order: the
		// line is unknown rather than possibly wrong.
		{name: "LambdasInMap", source: "func main() {\n  fs := {\"a\": func() { return error(\"a\") }, \"b\": func() { return error(\"b\") }}\n  return fs[\"b\"]()\n}", builtin: "error"},
		// Errors raised by the VM itself carry no position in Risor v1.8.1.
		{name: "OperatorTypeError", source: "func main() {\n  len(\"a\")\n  return 1 + \"a\"\n}", builtin: "len"},
	}
	r := NewRunner(RunnerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runSource(t, r, tt.source, "", RunOptions{})
			rerr, ok := errors.AsType[*RunError](err)
			require.True(t, ok, "want a *RunError, got %v", err)
			require.Equal(t, KindRuntime, rerr.Kind, rerr.Error())
			require.Equal(t, tt.builtin, rerr.Builtin)
			require.Equal(t, tt.line, rerr.Line, rerr.Error())
			column := 0
			if tt.line > 0 {
				column = strings.Index(strings.Split(tt.source, "\n")[tt.line-1], tt.at) + 1
			}
			require.Equal(t, column, rerr.Column, rerr.Error())
		})
	}
}

// TestLoadWithoutCallSites loads bare compiler.MarshalCode output: it runs,
// and its errors have no position.
func TestLoadWithoutCallSites(t *testing.T) {
	t.Parallel()

	compiled, err := Compile("func main() {\n  error(\"boom\")\n}")
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(compiled.Code, &fields))
	require.Contains(t, fields, callSitesField)
	delete(fields, callSitesField)
	bare, err := json.Marshal(fields)
	require.NoError(t, err)

	prog, err := Load(bare)
	require.NoError(t, err)
	_, err = NewRunner(RunnerConfig{}).Run(context.Background(), prog, nil, RunOptions{Effects: Live{}})
	require.Equal(t, &RunError{Kind: KindRuntime, Message: "boom", Builtin: "error"}, err)
}
