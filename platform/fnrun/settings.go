package fnrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/risor-io/risor/arg"
	"github.com/risor-io/risor/object"
)

// Settings are the operator's settings that functions read with env(name)
// and secret(name). Operators set them through the API; function authors
// cannot.
type Settings interface {
	// Env returns the env setting name; ok is false when it is unset.
	Env(ctx context.Context, name string) (value string, ok bool, err error)
	// Secret returns the secret name; ok is false when it is unset.
	Secret(ctx context.Context, name string) (value string, ok bool, err error)
}

func settingNameArg(builtin string, obj object.Object) (string, *object.Error) {
	name, ok := obj.(*object.String)
	if !ok {
		return "", object.TypeErrorf("type error: %s: name must be a string (%s given)", builtin, obj.Type())
	}
	if !ValidSettingName(name.Value()) {
		return "", object.Errorf("value error: %s: invalid name %q (%s)", builtin, name.Value(), SettingNameRule)
	}
	return name.Value(), nil
}

// env(name) returns the operator's env setting name as a string, or nil when
// it is unset. It is an effect (Call "env", Args [name]): a resumed run reads
// the value its first run read, even if the operator changed it since.
func env(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("env", 1, args); err != nil {
		return err
	}
	name, errObj := settingNameArg("env", args[0])
	if errObj != nil {
		return errObj
	}
	result, errObj := st.do(ctx, Call{Name: "env", Args: []any{name}}, func(ctx context.Context) (any, error) {
		if st.settings == nil {
			return nil, errNoSettings
		}
		value, ok, err := st.settings.Env(ctx, name)
		if err != nil || !ok {
			return nil, err
		}
		return value, nil
	})
	if errObj != nil {
		return errObj
	}
	switch v := result.(type) {
	case nil:
		return object.Nil
	case string:
		return object.NewString(v)
	}
	return st.badResult(result)
}

// secret(name) returns the operator's secret name as a string, or nil when
// it is unset.
//
// secret() is deliberately not an effect: a journal keeps every effect's
// result, and a journal must never hold a secret. It reads the live value on
// every call, also when a resumed run replays (so a rotated secret is used
// at once). Instead, the run remembers each value read (RunOptions.Secrets)
// and masks it out of whatever leaves the run: log lines, effect arguments
// (so their journal digests do not depend on it) and results, main's result,
// error messages, and the journal entries the worker commits.
func secret(ctx context.Context, st *runState, args []object.Object) object.Object {
	if err := arg.Require("secret", 1, args); err != nil {
		return err
	}
	name, errObj := settingNameArg("secret", args[0])
	if errObj != nil {
		return errObj
	}
	if st.fatal != nil {
		return object.NewError(st.fatal)
	}
	if ctx.Err() != nil {
		return st.fail(st.interrupted(ctx))
	}
	if st.settings == nil {
		return object.NewError(fmt.Errorf("secret: %w", errNoSettings))
	}
	value, ok, err := st.settings.Secret(ctx, name)
	if ctx.Err() != nil {
		return st.fail(st.interrupted(ctx))
	}
	if err != nil {
		return object.NewError(fmt.Errorf("secret: read %q: %w", name, err))
	}
	if !ok {
		return object.Nil
	}
	st.secrets.add(value)
	return object.NewString(value)
}

// errNoSettings is raised by env() and secret() when the run has no
// RunOptions.Settings.
var errNoSettings = errors.New("settings are not available here")
