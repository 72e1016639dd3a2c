package fnrun

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/risor-io/risor/arg"
	"github.com/risor-io/risor/object"
)

// KV is durable key-value state, read and written by functions with kv.get,
// kv.set, kv.cas and kv.delete. Keys live in namespaces (by default, the
// function's name). Values are JSON documents, never JSON null: a nil value
// means "absent" throughout.
type KV interface {
	// Get returns the value of key, or nil when it is absent.
	Get(ctx context.Context, namespace, key string) (json.RawMessage, error)
	// Set stores value (not nil) under key.
	Set(ctx context.Context, namespace, key string, value json.RawMessage) error
	// CAS compares and swaps in one step: if the value of key equals
	// oldValue (as JSON, semantically: 1.0 equals 1 and key order does not
	// matter), it becomes newValue, and swapped is true. A nil oldValue
	// means "only if absent"; a nil newValue deletes the key.
	CAS(ctx context.Context, namespace, key string, oldValue, newValue json.RawMessage) (swapped bool, err error)
	// Delete removes key; existed says whether it was there.
	Delete(ctx context.Context, namespace, key string) (existed bool, err error)
}

// Limits of kv.
const (
	// MaxKVKey is the longest key, in bytes; keys are at least 1 byte.
	MaxKVKey = 512
	// MaxKVValue is the largest value, in bytes of JSON.
	MaxKVValue = 1 << 20
)

// errNoKV is raised by the kv builtins when the run has no RunOptions.KV.
var errNoKV = errors.New("kv is not available here")

// kvModule is kv.get, set, cas, delete and ns in namespace ("" means the
// run's default namespace, RunOptions.KVNamespace). Every call is one effect
// (Call "kv.get", "kv.set", "kv.cas" or "kv.delete", Args with the namespace,
// the key and the values as JSON), so a replay returns the recorded result
// and a recorded cas is never done again.
func (r *Runner) kvModule(namespace string) *object.Module {
	fns := map[string]object.Object{
		"get":    object.NewBuiltin("get", withState(kvGet(namespace))),
		"set":    object.NewBuiltin("set", withState(kvSet(namespace))),
		"cas":    object.NewBuiltin("cas", withState(kvCAS(namespace))),
		"delete": object.NewBuiltin("delete", withState(kvDelete(namespace))),
		"ns":     object.NewBuiltin("ns", r.kvNS),
	}
	return object.NewBuiltinsModule("kv", fns)
}

// kvNS is kv.ns(name): the kv module of another namespace.
func (r *Runner) kvNS(_ context.Context, args ...object.Object) object.Object {
	if err := arg.Require("kv.ns", 1, args); err != nil {
		return err
	}
	name, ok := args[0].(*object.String)
	if !ok {
		return object.TypeErrorf("type error: kv.ns: namespace must be a string (%s given)", args[0].Type())
	}
	if !ValidFunctionName(name.Value()) {
		return object.Errorf("value error: kv.ns: invalid namespace %q (letters, digits, '_' and '-', 1 to 128 characters)", name.Value())
	}
	return newSandboxModule("kv", r.kvModule(name.Value()))
}

// kvCall is what every kv builtin starts with: the namespace and the key.
func kvCall(builtin, namespace string, st *runState, keyArg object.Object) (ns, key string, errObj *object.Error) {
	ns = namespace
	if ns == "" {
		ns = st.kvNamespace
	}
	if ns == "" {
		return "", "", object.Errorf("value error: %s: this run has no default namespace: use kv.ns(name)", builtin)
	}
	k, ok := keyArg.(*object.String)
	if !ok {
		return "", "", object.TypeErrorf("type error: %s: key must be a string (%s given)", builtin, keyArg.Type())
	}
	if n := len(k.Value()); n == 0 || n > MaxKVKey {
		return "", "", object.Errorf("value error: %s: key must be 1 to %d bytes long (got %d)", builtin, MaxKVKey, n)
	}
	return ns, k.Value(), nil
}

// kvValue encodes a value as JSON; nil for Risor's nil.
func kvValue(builtin, what string, obj object.Object) (json.RawMessage, *object.Error) {
	if obj == object.Nil {
		return nil, nil
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, object.Errorf("value error: %s: %s cannot be encoded as JSON: %v", builtin, what, err)
	}
	if len(data) > MaxKVValue {
		return nil, object.Errorf("value error: %s: %s is %d bytes of JSON, more than the limit of %d", builtin, what, len(data), MaxKVValue)
	}
	return data, nil
}

// rawArg is a JSON value as Call.Args data: nil stays nil.
func rawArg(v json.RawMessage) any {
	if v == nil {
		return nil
	}
	return v
}

func kvGet(namespace string) stateFunc {
	return func(ctx context.Context, st *runState, args []object.Object) object.Object {
		if err := arg.Require("kv.get", 1, args); err != nil {
			return err
		}
		ns, key, errObj := kvCall("kv.get", namespace, st, args[0])
		if errObj != nil {
			return errObj
		}
		call := Call{Name: "kv.get", Args: map[string]any{"namespace": ns, "key": key}}
		result, errObj := st.do(ctx, call, func(ctx context.Context) (any, error) {
			if st.kv == nil {
				return nil, errNoKV
			}
			raw, err := st.kv.Get(ctx, ns, key)
			if err != nil || raw == nil {
				return nil, err
			}
			return decodeJSON(raw)
		})
		if errObj != nil {
			return errObj
		}
		return st.object(result)
	}
}

// kv.set(key, value) stores value; a nil value deletes the key.
func kvSet(namespace string) stateFunc {
	return func(ctx context.Context, st *runState, args []object.Object) object.Object {
		if err := arg.Require("kv.set", 2, args); err != nil {
			return err
		}
		ns, key, errObj := kvCall("kv.set", namespace, st, args[0])
		if errObj != nil {
			return errObj
		}
		value, errObj := kvValue("kv.set", "value", args[1])
		if errObj != nil {
			return errObj
		}
		call := Call{Name: "kv.set", Args: map[string]any{"namespace": ns, "key": key, "value": rawArg(value)}}
		_, errObj = st.do(ctx, call, func(ctx context.Context) (any, error) {
			if st.kv == nil {
				return nil, errNoKV
			}
			if value == nil {
				_, err := st.kv.Delete(ctx, ns, key)
				return nil, err
			}
			return nil, st.kv.Set(ctx, ns, key, value)
		})
		if errObj != nil {
			return errObj
		}
		return object.Nil
	}
}

// kv.cas(key, old, new) returns whether it swapped.
func kvCAS(namespace string) stateFunc {
	return func(ctx context.Context, st *runState, args []object.Object) object.Object {
		if err := arg.Require("kv.cas", 3, args); err != nil {
			return err
		}
		ns, key, errObj := kvCall("kv.cas", namespace, st, args[0])
		if errObj != nil {
			return errObj
		}
		oldValue, errObj := kvValue("kv.cas", "old", args[1])
		if errObj != nil {
			return errObj
		}
		newValue, errObj := kvValue("kv.cas", "new", args[2])
		if errObj != nil {
			return errObj
		}
		call := Call{Name: "kv.cas", Args: map[string]any{
			"namespace": ns, "key": key, "old": rawArg(oldValue), "new": rawArg(newValue),
		}}
		result, errObj := st.do(ctx, call, func(ctx context.Context) (any, error) {
			if st.kv == nil {
				return nil, errNoKV
			}
			return st.kv.CAS(ctx, ns, key, oldValue, newValue)
		})
		if errObj != nil {
			return errObj
		}
		swapped, ok := result.(bool)
		if !ok {
			return st.badResult(result)
		}
		return object.NewBool(swapped)
	}
}

// kv.delete(key) returns whether the key existed.
func kvDelete(namespace string) stateFunc {
	return func(ctx context.Context, st *runState, args []object.Object) object.Object {
		if err := arg.Require("kv.delete", 1, args); err != nil {
			return err
		}
		ns, key, errObj := kvCall("kv.delete", namespace, st, args[0])
		if errObj != nil {
			return errObj
		}
		call := Call{Name: "kv.delete", Args: map[string]any{"namespace": ns, "key": key}}
		result, errObj := st.do(ctx, call, func(ctx context.Context) (any, error) {
			if st.kv == nil {
				return nil, errNoKV
			}
			return st.kv.Delete(ctx, ns, key)
		})
		if errObj != nil {
			return errObj
		}
		existed, ok := result.(bool)
		if !ok {
			return st.badResult(result)
		}
		return object.NewBool(existed)
	}
}
