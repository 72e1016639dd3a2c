package fnrun

import "regexp"

// The rules for names, shared by the API, the CLI and the sandbox (and the
// CHECK constraints of their tables).
var (
	functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)         //nolint:gochecknoglobals // compiled once
	settingNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`) //nolint:gochecknoglobals // compiled once
)

// ValidFunctionName reports whether name may name a function, or a kv
// namespace: letters, digits, '_' and '-', 1 to 128 of them.
func ValidFunctionName(name string) bool {
	return functionNameRE.MatchString(name)
}

// ValidSettingName reports whether name may name an env setting or a secret:
// a letter or '_', then letters, digits or '_', at most 128 in all.
func ValidSettingName(name string) bool {
	return settingNameRE.MatchString(name)
}

// SettingNameRule words the rule of ValidSettingName for error messages.
const SettingNameRule = "a letter or '_', then letters, digits or '_', at most 128 characters"
