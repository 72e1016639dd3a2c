package fnrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/risor-io/risor/ast"

	"github.com/powny/powny/platform/match"
	"github.com/powny/powny/platform/schedule"
)

// Config is a function's top-level `config := {...}` map. Every key is
// optional. It round-trips through JSON.
type Config struct {
	// Timeout is the wall clock allowed for one run ("timeout": a duration
	// string such as "30s" or "15m"). Default 1 minute; must be > 0 and <= 24h.
	Timeout time.Duration
	// Durability says which effects are committed before the function goes
	// on ("durability"): "checkpoint" (default: those before each
	// checkpoint(), explicit or implicit) or "effect" (every one).
	Durability string
	// Retries is how many times a failed run is tried again ("retries": an
	// integer 0..100). Default 0: attempts = Retries + 1.
	Retries int
	// On lists trigger filters ("on": a list of maps whose values are literals:
	// string, int, float, bool, nil, or lists and maps of those).
	On []map[string]any
	// Schedule is a cron spec ("schedule": "*/5 * * * *", 6 fields with
	// seconds, or a descriptor such as "@hourly" or "@every 30s"; see
	// platform/schedule). The collector leader starts the function once per
	// tick, in UTC. Default "": no schedule.
	Schedule string
}

const (
	defaultTimeout = time.Minute
	maxTimeout     = 24 * time.Hour
	maxRetries     = 100
)

// configJSON is Config on the wire: the timeout as a duration string ("1m0s").
type configJSON struct {
	Timeout    string           `json:"timeout"`
	Retries    int              `json:"retries"`
	Durability string           `json:"durability,omitempty"`
	On         []map[string]any `json:"on,omitempty"`
	Schedule   string           `json:"schedule,omitempty"`
}

// MarshalJSON encodes c with the timeout as a duration string.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{
		Timeout: c.Timeout.String(), Retries: c.Retries, Durability: c.Durability, On: c.On, Schedule: c.Schedule,
	})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (c *Config) UnmarshalJSON(data []byte) error {
	var wire configJSON
	// UseNumber so that integers in "on" come back as int64, as Compile made them.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&wire); err != nil {
		return err
	}
	var timeout time.Duration
	if wire.Timeout != "" {
		var err error
		if timeout, err = time.ParseDuration(wire.Timeout); err != nil {
			return fmt.Errorf("config timeout: %w", err)
		}
	}
	on := make([]map[string]any, len(wire.On))
	for i, filter := range wire.On {
		on[i] = normalizeNumbers(filter).(map[string]any)
	}
	if len(on) == 0 {
		on = nil
	}
	*c = Config{Timeout: timeout, Retries: wire.Retries, Durability: wire.Durability, On: on, Schedule: wire.Schedule}
	return nil
}

// readConfig reads the top-level `config := {...}` from the syntax tree.
// Values must be literals: nothing runs at deploy time.
func readConfig(program *ast.Program) (Config, error) {
	config := Config{Timeout: defaultTimeout, Durability: DurabilityCheckpoint}
	var found ast.Node
	for _, stmt := range program.Statements() {
		value, ok, err := configStatement(stmt)
		if err != nil {
			return Config{}, err
		}
		if !ok {
			continue
		}
		if found != nil {
			return Config{}, sourceErrorAt(stmt, "config is declared twice (first at line %d)", found.Token().StartPosition.LineNumber())
		}
		found = stmt
		m, isMap := value.(*ast.Map)
		if !isMap {
			return Config{}, sourceErrorAt(value, "config must be a map literal declared with config := {...}")
		}
		if err := config.read(m); err != nil {
			return Config{}, err
		}
	}
	return config, nil
}

// configStatement reports whether stmt declares or assigns `config`, and its value.
func configStatement(stmt ast.Node) (ast.Expression, bool, error) {
	switch s := stmt.(type) {
	case *ast.Var:
		name, value := s.Value()
		return value, name == "config", nil
	case *ast.Const:
		name, value := s.Value()
		return value, name == "config", nil
	case *ast.Assign:
		if s.Index() == nil && s.Name() == "config" {
			return nil, false, sourceErrorAt(s, "config must be a map literal declared with config := {...}, not assigned with %s", s.Operator())
		}
	case *ast.MultiVar:
		names, _ := s.Value()
		if slices.Contains(names, "config") {
			return nil, false, sourceErrorAt(s, "config must be a map literal declared with config := {...}")
		}
	}
	return nil, false, nil
}

func (c *Config) read(m *ast.Map) error {
	entries, err := mapEntries(m, "config")
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.key {
		case "timeout":
			err = c.readTimeout(e.value)
		case "retries":
			err = c.readRetries(e.value)
		case "on":
			err = c.readOn(e.value)
		case "durability":
			err = c.readDurability(e.value)
		case "schedule":
			err = c.readSchedule(e.value)
		default:
			err = sourceErrorAt(e.keyNode, "unknown config key %q (known: durability, on, retries, schedule, timeout)", e.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Durability values.
const (
	DurabilityCheckpoint = "checkpoint"
	DurabilityEffect     = "effect"
)

func (c *Config) readDurability(node ast.Expression) error {
	value, err := literal(node, "config.durability")
	if err != nil {
		return err
	}
	s, _ := value.(string)
	if s != DurabilityCheckpoint && s != DurabilityEffect {
		return sourceErrorAt(node, "config.durability must be %q or %q, not %s", DurabilityCheckpoint, DurabilityEffect, describe(value))
	}
	c.Durability = s
	return nil
}

func (c *Config) readTimeout(node ast.Expression) error {
	value, err := literal(node, "config.timeout")
	if err != nil {
		return err
	}
	s, ok := value.(string)
	if !ok {
		return sourceErrorAt(node, "config.timeout must be a duration string such as \"30s\" or \"15m\", not %s", describe(value))
	}
	d, perr := time.ParseDuration(s)
	if perr != nil {
		return sourceErrorAt(node, "config.timeout: invalid duration %q (use a number with a unit: \"30s\", \"15m\", \"2h\")", s)
	}
	if d <= 0 || d > maxTimeout {
		return sourceErrorAt(node, "config.timeout must be > 0 and <= 24h, not %s", s)
	}
	c.Timeout = d
	return nil
}

func (c *Config) readSchedule(node ast.Expression) error {
	value, err := literal(node, "config.schedule")
	if err != nil {
		return err
	}
	s, ok := value.(string)
	if !ok {
		return sourceErrorAt(node, "config.schedule must be a cron spec string such as \"*/5 * * * *\", not %s", describe(value))
	}
	if _, perr := schedule.Parse(s); perr != nil {
		return sourceErrorAt(node, "config.schedule: invalid cron spec %q: %s", s, perr)
	}
	c.Schedule = s
	return nil
}

func (c *Config) readRetries(node ast.Expression) error {
	value, err := literal(node, "config.retries")
	if err != nil {
		return err
	}
	n, ok := value.(int64)
	if !ok {
		return sourceErrorAt(node, "config.retries must be an integer, not %s", describe(value))
	}
	if n < 0 || n > maxRetries {
		return sourceErrorAt(node, "config.retries must be between 0 and %d, not %d", maxRetries, n)
	}
	c.Retries = int(n)
	return nil
}

func (c *Config) readOn(node ast.Expression) error {
	list, ok := node.(*ast.List)
	if !ok {
		if _, err := literal(node, "config.on"); err != nil {
			return err
		}
		return sourceErrorAt(node, "config.on must be a list of maps")
	}
	for i, item := range list.Items() {
		path := fmt.Sprintf("config.on[%d]", i)
		if _, isMap := item.(*ast.Map); !isMap {
			if _, err := literal(item, path); err != nil {
				return err
			}
			return sourceErrorAt(item, "%s must be a map", path)
		}
		value, err := literal(item, path)
		if err != nil {
			return err
		}
		c.On = append(c.On, value.(map[string]any))
	}
	if _, err := match.CompileAll(c.On); err != nil {
		var fe *match.FilterError
		if errors.As(err, &fe) && fe.Index >= 0 && fe.Index < len(list.Items()) {
			return sourceErrorAt(list.Items()[fe.Index], "%s", filterError("config.on", fe))
		}
		return sourceErrorAt(node, "config.%v", err)
	}
	return nil
}

// filterError describes an invalid filter, prefix naming where it is:
// "config.on[2].host: ...".
func filterError(prefix string, fe *match.FilterError) string {
	where := prefix
	if fe.Index >= 0 && prefix == "config.on" {
		where += fmt.Sprintf("[%d]", fe.Index)
	}
	if fe.Path != "" {
		where += "." + fe.Path
	}
	msg := where + ": " + fe.Message
	if fe.Err != nil {
		msg += ": " + fe.Err.Error()
	}
	return msg
}

// literal converts a literal expression (string, int, float, bool, nil, and
// lists and maps of those) to plain Go data; path names it in errors.
func literal(node ast.Expression, path string) (any, error) {
	switch n := node.(type) {
	case *ast.String:
		if n.Template() != nil {
			return nil, sourceErrorAt(n, "%s must be a literal: a template string runs code", path)
		}
		return n.Value(), nil
	case *ast.Int:
		return n.Value(), nil
	case *ast.Float:
		return n.Value(), nil
	case *ast.Bool:
		return n.Value(), nil
	case *ast.Nil:
		return nil, nil
	case *ast.Prefix:
		if n.Operator() == "-" {
			switch v := n.Right().(type) {
			case *ast.Int:
				return -v.Value(), nil
			case *ast.Float:
				return -v.Value(), nil
			}
		}
	case *ast.List:
		items := make([]any, 0, len(n.Items()))
		for i, item := range n.Items() {
			v, err := literal(item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		return items, nil
	case *ast.Map:
		entries, err := mapEntries(n, path)
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(entries))
		for _, e := range entries {
			v, err := literal(e.value, path+"."+e.key)
			if err != nil {
				return nil, err
			}
			m[e.key] = v
		}
		return m, nil
	}
	return nil, sourceErrorAt(node, "%s must be a literal (string, number, bool, nil, or a list or map of those), not %s", path, describeNode(node))
}

type mapEntry struct {
	key     string
	keyNode ast.Node
	value   ast.Expression
}

// mapEntries returns a map literal's entries in source order (the syntax tree
// keeps them in a Go map), rejecting computed and duplicate keys.
func mapEntries(m *ast.Map, path string) ([]mapEntry, error) {
	entries := make([]mapEntry, 0, len(m.Items()))
	for k, v := range m.Items() {
		var key string
		switch k := k.(type) {
		case *ast.String:
			if k.Template() != nil {
				return nil, sourceErrorAt(k, "%s keys must be plain strings, not templates", path)
			}
			key = k.Value()
		case *ast.Ident:
			key = k.Literal()
		default:
			return nil, sourceErrorAt(k, "%s keys must be strings", path)
		}
		entries = append(entries, mapEntry{key: key, keyNode: k, value: v})
	}
	slices.SortFunc(entries, func(a, b mapEntry) int {
		return a.keyNode.Token().StartPosition.Char - b.keyNode.Token().StartPosition.Char
	})
	for i := 1; i < len(entries); i++ {
		if prev := entries[i-1]; prev.key == entries[i].key {
			return nil, sourceErrorAt(entries[i].keyNode, "%s has key %q twice", path, prev.key)
		}
	}
	return entries, nil
}

func sourceErrorAt(node ast.Node, format string, args ...any) *SourceError {
	line, col := position(node)
	return &SourceError{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}

// describe names the type of a literal value for error messages.
func describe(value any) string {
	switch v := value.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case int64:
		return fmt.Sprintf("an integer (%d)", v)
	case float64:
		return fmt.Sprintf("a float (%v)", v)
	case bool:
		return fmt.Sprintf("a bool (%v)", v)
	case []any:
		return "a list"
	default:
		return "a map"
	}
}

// describeNode names an expression that is not a literal.
func describeNode(node ast.Node) string {
	switch node.(type) {
	case *ast.Call, *ast.ObjectCall, *ast.Pipe:
		return "a function call"
	case *ast.Ident:
		return fmt.Sprintf("a variable (%s)", node.String())
	case *ast.Func:
		return "a function"
	default:
		return "an expression (" + strings.TrimSpace(node.String()) + ")"
	}
}
