package cli

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// The helpers below declare a flag whose default comes from an environment
// variable; a variable that does not parse is reported when the command
// validates its options (envErrs), naming the variable.

type envErrs []error

func (e *envErrs) add(name, value, want string) {
	*e = append(*e, fmt.Errorf("environment variable %s=%q: want %s", name, value, want))
}

func stringFlag(fs *pflag.FlagSet, p *string, flag, envName, def, usage string) {
	fs.StringVar(p, flag, env(envName, def), usage+" (env "+envName+")")
}

func durationFlag(fs *pflag.FlagSet, errs *envErrs, p *time.Duration, flag, envName string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(envName); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs.add(envName, v, "a duration such as 30s or 2h")
		} else {
			def = d
		}
	}
	fs.DurationVar(p, flag, def, usage+" (env "+envName+")")
}

func intFlag(fs *pflag.FlagSet, errs *envErrs, p *int, flag, envName string, def int, usage string) {
	if v, ok := os.LookupEnv(envName); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs.add(envName, v, "an integer")
		} else {
			def = n
		}
	}
	fs.IntVar(p, flag, def, usage+" (env "+envName+")")
}

func int64Flag(fs *pflag.FlagSet, errs *envErrs, p *int64, flag, envName string, def int64, usage string) {
	if v, ok := os.LookupEnv(envName); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs.add(envName, v, "an integer")
		} else {
			def = n
		}
	}
	fs.Int64Var(p, flag, def, usage+" (env "+envName+")")
}
