package fnrun

import (
	"context"
	"slices"
	"sync"

	"github.com/risor-io/risor/builtins"
	"github.com/risor-io/risor/errz"
	modBase64 "github.com/risor-io/risor/modules/base64"
	modBytes "github.com/risor-io/risor/modules/bytes"
	modErrors "github.com/risor-io/risor/modules/errors"
	modFmt "github.com/risor-io/risor/modules/fmt"
	modJSON "github.com/risor-io/risor/modules/json"
	modMath "github.com/risor-io/risor/modules/math"
	modRegexp "github.com/risor-io/risor/modules/regexp"
	modStrconv "github.com/risor-io/risor/modules/strconv"
	modStrings "github.com/risor-io/risor/modules/strings"
	"github.com/risor-io/risor/object"
	"github.com/risor-io/risor/op"
)

// The sandbox is an allow-list. Risor v1.8.1 has 66 default globals
// (risor_config.go): the 38 of builtins.Builtins(), fetch (http), print,
// printf and errorf (fmt), cat cd cp getenv ls setenv unsetenv open (os),
// nslookup (dns), and 15 modules. Kept: the pure ones below. Dropped:
//   - os exec filepath cat cd cp ls open getenv setenv unsetenv: files,
//     processes and the environment of the worker;
//   - http fetch nslookup: network outside Effects (http is replaced);
//   - print printf fmt: write to the worker's stdout (log.* replaces them;
//     errorf, which only builds an error, is kept);
//   - rand time: non-deterministic (random() and now() replace them);
//   - spawn chan close: concurrency, which replay cannot order.

// risorBuiltinNames are the Risor builtins kept: all pure.
func risorBuiltinNames() []string {
	return []string{
		"all", "any", "assert", "bool", "buffer", "byte", "byte_slice", "call", "chr", "chunk",
		"coalesce", "decode", "delete", "encode", "error", "errorf", "float", "float_slice",
		"getattr", "hash", "int", "is_hashable", "iter", "keys", "len", "list", "make", "map",
		"ord", "reversed", "set", "sorted", "sprintf", "string", "try", "type",
	}
}

// risorModules are the Risor modules kept: all pure.
func risorModules() map[string]func() *object.Module {
	return map[string]func() *object.Module{
		"base64":  modBase64.Module,
		"bytes":   modBytes.Module,
		"errors":  modErrors.Module,
		"json":    modJSON.Module,
		"math":    modMath.Module,
		"regexp":  modRegexp.Module,
		"strconv": modStrconv.Module,
		"strings": modStrings.Module,
	}
}

// ownGlobalNames are the globals Powny adds; their effects go through Effects.
func ownGlobalNames() []string {
	return []string{"checkpoint", "http", "log", "now", "random", "sleep", "uuid", "wait_event", "kv", "env", "secret"}
}

// globalNames lists every global of the sandbox, for the compiler.
func globalNames() []string {
	names := append(risorBuiltinNames(), ownGlobalNames()...)
	for name := range risorModules() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// unavailableGlobals explains, for a compile error, Risor defaults that the
// sandbox dropped.
func unavailableGlobals() map[string]string {
	const noOS = "functions have no file, process or environment access"
	return map[string]string{
		"os": noOS, "exec": noOS, "filepath": noOS, "cat": noOS, "cd": noOS, "cp": noOS,
		"ls": noOS, "open": noOS, "getenv": noOS, "setenv": noOS, "unsetenv": noOS,
		"fetch":    "use http.get or http.request",
		"nslookup": "functions have no DNS access",
		"print":    "use log.info",
		"printf":   "use log.info with sprintf",
		"fmt":      "use log.info, sprintf and errorf",
		"rand":     "use random()",
		"time":     "use now()",
		"spawn":    "functions run without concurrency",
		"chan":     "functions run without concurrency",
		"close":    "functions run without concurrency",
	}
}

func (r *Runner) buildGlobals() map[string]any {
	risorBuiltins := builtins.Builtins()
	risorBuiltins["errorf"] = modFmt.Builtins()["errorf"]
	globals := map[string]any{}
	for _, name := range risorBuiltinNames() {
		globals[name] = tracked(name, risorBuiltins[name].(*object.Builtin).Value())
	}
	for name, newModule := range risorModules() {
		globals[name] = newSandboxModule(name, newModule())
	}
	globals["now"] = tracked("now", withState(now))
	globals["random"] = tracked("random", withState(random))
	globals["uuid"] = tracked("uuid", withState(newUUID))
	globals["sleep"] = tracked("sleep", withState(sleep))
	globals["checkpoint"] = tracked("checkpoint", withState(checkpoint))
	globals["wait_event"] = tracked("wait_event", withState(waitEvent))
	globals["log"] = newSandboxModule("log", r.logModule())
	globals["http"] = newSandboxModule("http", r.httpModule())
	globals["kv"] = newSandboxModule("kv", r.kvModule(""))
	globals["env"] = tracked("env", withState(env))
	globals["secret"] = tracked("secret", withState(secret))
	return globals
}

// stateFunc is a builtin that needs the run's state.
type stateFunc func(ctx context.Context, st *runState, args []object.Object) object.Object

func withState(fn stateFunc) object.BuiltinFunction {
	return func(ctx context.Context, args ...object.Object) object.Object {
		st := stateFrom(ctx)
		if st == nil {
			return object.EvalErrorf("eval error: builtin called outside of a run")
		}
		return fn(ctx, st, args)
	}
}

// sandboxModule presents a module whose builtins are tracked (see tracked).
// Modules are not listable in Risor, so builtins are wrapped on first use.
type sandboxModule struct {
	name    string
	inner   *object.Module
	tracked sync.Map // attribute name -> *object.Builtin
}

var _ object.Object = (*sandboxModule)(nil)

func newSandboxModule(name string, inner *object.Module) *sandboxModule {
	return &sandboxModule{name: name, inner: inner}
}

func (m *sandboxModule) GetAttr(name string) (object.Object, bool) {
	if b, ok := m.tracked.Load(name); ok {
		return b.(*object.Builtin), true
	}
	attr, ok := m.inner.GetAttr(name)
	if !ok {
		return nil, false
	}
	builtin, ok := attr.(*object.Builtin)
	if !ok {
		return attr, true
	}
	b, _ := m.tracked.LoadOrStore(name, tracked(m.name+"."+name, builtin.Value()))
	return b.(*object.Builtin), true
}

func (m *sandboxModule) Type() object.Type { return object.MODULE }
func (m *sandboxModule) Inspect() string   { return "module(" + m.name + ")" }
func (m *sandboxModule) String() string    { return m.Inspect() }
func (m *sandboxModule) Interface() any    { return nil }
func (m *sandboxModule) IsTruthy() bool    { return true }
func (m *sandboxModule) Cost() int         { return 0 }
func (m *sandboxModule) MarshalJSON() ([]byte, error) {
	return nil, errz.TypeErrorf("type error: unable to marshal module")
}

func (m *sandboxModule) Equals(other object.Object) object.Object {
	return object.NewBool(m == other)
}

func (m *sandboxModule) SetAttr(string, object.Object) error {
	return errz.TypeErrorf("type error: cannot modify module attributes")
}

func (m *sandboxModule) RunOperation(opType op.BinaryOpType, _ object.Object) object.Object {
	return object.TypeErrorf("type error: unsupported operation for module: %v", opType)
}
