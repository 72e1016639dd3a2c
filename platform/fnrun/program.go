package fnrun

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/risor-io/risor/compiler"
)

// callSitesField is the field Compile adds to Risor's marshalled code.
const callSitesField = "powny_call_sites"

// Program is compiled code loaded for running. It is safe for concurrent use
// by many runs: each run gets its own VM.
type Program struct {
	code  *compiler.Code
	sites callSites
}

// Load loads Compiled.Code for running. The code must come from Compile, which
// ends the program with a call to main.
func Load(code []byte) (*Program, error) {
	main, err := compiler.UnmarshalCode(code)
	if err != nil {
		return nil, fmt.Errorf("load compiled code: %w", err)
	}
	var extra struct {
		Sites callSites `json:"powny_call_sites"` // callSitesField
	}
	if err := json.Unmarshal(code, &extra); err != nil {
		return nil, fmt.Errorf("load call sites: %w", err)
	}
	if calls := codeCalls(main); len(calls) == 0 || calls[len(calls)-1].ip != main.InstructionCount() {
		return nil, errors.New("load compiled code: not made by fnrun.Compile: the program does not end by calling main")
	}
	return &Program{code: main, sites: extra.Sites}, nil
}

// encodeCode marshals code with Risor's compiler.MarshalCode and adds the call
// sites as one more top-level field, which compiler.UnmarshalCode ignores.
func encodeCode(code *compiler.Code, sites callSites) ([]byte, error) {
	risor, err := compiler.MarshalCode(code)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(risor, &fields); err != nil {
		return nil, err
	}
	if fields[callSitesField], err = json.Marshal(sites); err != nil {
		return nil, err
	}
	return json.Marshal(fields)
}
