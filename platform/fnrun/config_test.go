package fnrun

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfig(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		config string // the source's first lines; func main follows
		want   Config
	}{
		{name: "Absent", config: "", want: Config{Timeout: time.Minute, Durability: DurabilityCheckpoint}},
		{name: "Empty", config: "config := {}", want: Config{Timeout: time.Minute, Durability: DurabilityCheckpoint}},
		{name: "Full", config: `config := {
  "timeout": "30m",
  "retries": 3,
  "on": [{"service": "disk", "status": ["CRIT", "WARN"], "level": -2, "ratio": 0.5, "muted": false, "owner": nil, "meta": {"k": [1]}}],
}`, want: Config{Timeout: 30 * time.Minute, Durability: DurabilityCheckpoint, Retries: 3, On: []map[string]any{{
			"service": "disk", "status": []any{"CRIT", "WARN"}, "level": int64(-2), "ratio": 0.5,
			"muted": false, "owner": nil, "meta": map[string]any{"k": []any{int64(1)}},
		}}}},
		{name: "IdentKeys", config: `config := {timeout: "24h", retries: 100}`, want: Config{Timeout: 24 * time.Hour, Durability: DurabilityCheckpoint, Retries: 100}},
		{name: "Var", config: `var config = {"retries": 0}`, want: Config{Timeout: time.Minute, Durability: DurabilityCheckpoint}},
		{name: "Schedule", config: `config := {"schedule": "*/5 * * * *"}`, want: Config{Timeout: time.Minute, Durability: DurabilityCheckpoint, Schedule: "*/5 * * * *"}},
		{name: "ScheduleSeconds", config: `config := {"schedule": "*/10 * * * * *"}`, want: Config{Timeout: time.Minute, Durability: DurabilityCheckpoint, Schedule: "*/10 * * * * *"}},
		{name: "ScheduleEvery", config: `config := {"schedule": "@every 30s"}`, want: Config{Timeout: time.Minute, Durability: DurabilityCheckpoint, Schedule: "@every 30s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			compiled, err := Compile(tt.config + "\nfunc main() { return 1 }")
			require.NoError(t, err)
			require.Equal(t, tt.want, compiled.Config)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		config  string
		line    int
		column  int
		message string
	}{
		{
			name: "Assigned", config: "config = {\"retries\": 1}", line: 1, column: 8,
			message: "config must be a map literal declared with config := {...}, not assigned with =",
		},
		{name: "NotAMap", config: "config := [1]", line: 1, column: 11, message: "config must be a map literal"},
		{
			name: "Call", config: "config := {\n  \"timeout\": sprintf(\"%ds\", 5),\n}", line: 2, column: 14,
			message: "config.timeout must be a literal (string, number, bool, nil, or a list or map of those), not a function call",
		},
		{name: "Variable", config: "t := \"5s\"\nconfig := {\"timeout\": t}", line: 2, column: 23, message: "config.timeout must be a literal (string, number, bool, nil, or a list or map of those), not a variable (t)"},
		{name: "Template", config: "config := {\"timeout\": '{1}s'}", line: 1, column: 23, message: "config.timeout must be a literal: a template string runs code"},
		{
			name: "UnknownKey", config: "config := {\n  \"retries\": 1,\n  \"tiemout\": \"5s\",\n}", line: 3, column: 3,
			message: `unknown config key "tiemout" (known: durability, on, retries, schedule, timeout)`,
		},
		{name: "DuplicateKey", config: "config := {\"retries\": 1, \"retries\": 2}", line: 1, column: 26, message: `config has key "retries" twice`},
		{name: "TimeoutNotString", config: "config := {\"timeout\": 30}", line: 1, column: 23, message: "config.timeout must be a duration string such as \"30s\" or \"15m\", not an integer (30)"},
		{name: "BadDuration", config: "config := {\"timeout\": \"30\"}", line: 1, column: 23, message: `config.timeout: invalid duration "30"`},
		{name: "TimeoutZero", config: "config := {\"timeout\": \"0s\"}", line: 1, column: 23, message: "config.timeout must be > 0 and <= 24h, not 0s"},
		{name: "TimeoutTooLong", config: "config := {\"timeout\": \"25h\"}", line: 1, column: 23, message: "config.timeout must be > 0 and <= 24h, not 25h"},
		{name: "RetriesString", config: "config := {\"retries\": \"3\"}", line: 1, column: 23, message: `config.retries must be an integer, not a string ("3")`},
		{name: "RetriesFloat", config: "config := {\"retries\": 1.5}", line: 1, column: 23, message: "config.retries must be an integer, not a float (1.5)"},
		{name: "RetriesNegative", config: "config := {\"retries\": -1}", line: 1, column: 23, message: "config.retries must be between 0 and 100, not -1"},
		{name: "RetriesTooMany", config: "config := {\"retries\": 101}", line: 1, column: 23, message: "config.retries must be between 0 and 100, not 101"},
		{name: "OnNotList", config: "config := {\"on\": {\"a\": 1}}", line: 1, column: 18, message: "config.on must be a list of maps"},
		{name: "OnItemNotMap", config: "config := {\"on\": [{\"a\": 1}, \"b\"]}", line: 1, column: 29, message: "config.on[1] must be a map"},
		{
			name: "OnValueCall", config: "config := {\"on\": [{\"host\": strings.to_lower(\"A\")}]}", line: 1, column: 28,
			message: "config.on[0].host must be a literal (string, number, bool, nil, or a list or map of those), not a function call",
		},
		{name: "OnNestedVariable", config: "x := 1\nconfig := {\"on\": [{\"n\": [1, x]}]}", line: 2, column: 29, message: "config.on[0].n[1] must be a literal"},
		{name: "OnFunction", config: "config := {\"on\": [{\"f\": func() { return 1 }}]}", line: 1, column: 25, message: "config.on[0].f must be a literal (string, number, bool, nil, or a list or map of those), not a function"},
		{name: "DeclaredTwice", config: "config := {}\nconfig := {}", line: 2, column: 1, message: "config is declared twice (first at line 1)"},
		{name: "MultiVar", config: "config, x := [{}, 1]", line: 1, column: 1, message: "config must be a map literal"},
		{
			name: "ScheduleFields", config: "config := {\n  \"schedule\": \"*/5 * *\",\n}", line: 2, column: 15,
			message: `config.schedule: invalid cron spec "*/5 * *": expected 5 to 6 fields, found 3`,
		},
		{
			name: "ScheduleRange", config: "config := {\"schedule\": \"0 25 * * *\"}", line: 1, column: 24,
			message: `config.schedule: invalid cron spec "0 25 * * *": end of range (25) above maximum (23): 25`,
		},
		{
			name: "ScheduleDescriptor", config: "config := {\"schedule\": \"@sometimes\"}", line: 1, column: 24,
			message: `config.schedule: invalid cron spec "@sometimes": unrecognized descriptor: @sometimes`,
		},
		{
			name: "ScheduleNotString", config: "config := {\"schedule\": 5}", line: 1, column: 24,
			message: `config.schedule must be a cron spec string such as "*/5 * * * *", not an integer (5)`,
		},
		{
			name: "ScheduleVariable", config: "s := \"@hourly\"\nconfig := {\"schedule\": s}", line: 2, column: 24,
			message: "config.schedule must be a literal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tt.config + "\nfunc main() { return 1 }")
			serr, ok := errors.AsType[*SourceError](err)
			require.True(t, ok, "want a *SourceError, got %v", err)
			require.Contains(t, serr.Message, tt.message)
			require.Equal(t, tt.line, serr.Line, serr.Error())
			require.Equal(t, tt.column, serr.Column, serr.Error())
		})
	}
}

func TestConfigJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		config Config
		json   string
	}{
		{name: "Zero", config: Config{}, json: `{"timeout":"0s","retries":0}`},
		{name: "Default", config: Config{Timeout: time.Minute}, json: `{"timeout":"1m0s","retries":0}`},
		{name: "Full", config: Config{Timeout: 90 * time.Second, Retries: 2, On: []map[string]any{
			{"service": "disk", "n": int64(3), "f": 1.5, "l": []any{"a", int64(1), nil}, "m": map[string]any{"b": true}},
		}}, json: `{"timeout":"1m30s","retries":2,"on":[{"f":1.5,"l":["a",1,null],"m":{"b":true},"n":3,"service":"disk"}]}`},
		{name: "Schedule", config: Config{Timeout: time.Minute, Schedule: "@hourly"}, json: `{"timeout":"1m0s","retries":0,"schedule":"@hourly"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := json.Marshal(tt.config)
			require.NoError(t, err)
			require.JSONEq(t, tt.json, string(data))
			var back Config
			require.NoError(t, json.Unmarshal(data, &back))
			require.Equal(t, tt.config, back)
		})
	}
}
