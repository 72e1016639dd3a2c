package fnrun

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/risor-io/risor/ast"
	"github.com/risor-io/risor/compiler"
	"github.com/risor-io/risor/parser"
	"github.com/risor-io/risor/token"
)

// Compiled is one function source, compiled and checked.
type Compiled struct {
	// Code is what workers run, through Load: Risor's compiler.MarshalCode JSON
	// plus one extra top-level field, the call-site table that gives runtime
	// errors their line (compiler.UnmarshalCode ignores unknown fields). Store
	// these bytes and never recompile: Risor compiles map literals in a
	// different order each time, so a recompile would not replay the same way.
	Code   []byte
	Config Config
}

// SourceError is returned by Compile for any problem in the source: syntax,
// compile (an unknown name is a compile error since the sandbox is an
// allow-list), a missing main, or a bad config. Line and Column are 1-based and
// 0 when unknown.
type SourceError struct {
	Line, Column int
	Message      string
}

func (e *SourceError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Compile parses and compiles one function source, reads its config from the
// syntax tree (literals only, no code runs), and checks that a top-level
// `func main(...)` taking 0 or 1 parameters exists. The compiled program ends
// with a call to main. Every error it returns is a *SourceError.
func Compile(source string) (*Compiled, error) {
	// Parsing only checks ctx between statements; there is nothing to cancel.
	program, err := parser.Parse(context.Background(), source)
	if err != nil {
		return nil, parseError(err)
	}
	config, err := readConfig(program)
	if err != nil {
		return nil, err
	}
	main, err := findMain(program)
	if err != nil {
		return nil, err
	}
	program = withMainCall(program, main)
	code, err := compiler.Compile(program, compiler.WithGlobalNames(append(globalNames(), inputGlobal)))
	if err != nil {
		return nil, compileError(err)
	}
	sites, err := buildCallSites(program, code)
	if err != nil {
		return nil, err
	}
	data, err := encodeCode(code, sites)
	if err != nil {
		return nil, &SourceError{Message: fmt.Sprintf("encode compiled code: %v", err)}
	}
	return &Compiled{Code: data, Config: config}, nil
}

func parseError(err error) *SourceError {
	var perr parser.ParserError
	if errors.As(err, &perr) {
		pos := perr.StartPosition()
		return &SourceError{Line: pos.LineNumber(), Column: pos.ColumnNumber(), Message: perr.Error()}
	}
	return &SourceError{Message: err.Error()}
}

var (
	// Risor's compiler reports positions only inside its message text, as
	// "location: FILE:LINE:COLUMN", or for a few errors as "..., line N)".
	compileLocation  = regexp.MustCompile(`\n+location: .*:(\d+):(\d+)`)
	compileLine      = regexp.MustCompile(`, line (\d+)\)$`)
	undefinedVarName = regexp.MustCompile(`undefined variable "([^"]+)"`)
)

func compileError(err error) *SourceError {
	msg := err.Error()
	serr := &SourceError{}
	if m := compileLocation.FindStringSubmatchIndex(msg); m != nil {
		serr.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		serr.Column, _ = strconv.Atoi(msg[m[4]:m[5]])
		msg = msg[:m[0]]
	} else if m := compileLine.FindStringSubmatch(msg); m != nil {
		serr.Line, _ = strconv.Atoi(m[1])
	}
	if m := undefinedVarName.FindStringSubmatch(msg); m != nil {
		if hint, ok := unavailableGlobals()[m[1]]; ok {
			msg += fmt.Sprintf(" (%s is not available in Powny functions: %s)", m[1], hint)
		}
	}
	serr.Message = strings.TrimSpace(msg)
	return serr
}

// findMain finds the top-level `func main`, which takes at most one parameter.
func findMain(program *ast.Program) (*ast.Func, error) {
	for _, stmt := range program.Statements() {
		fn, ok := stmt.(*ast.Func)
		if !ok || fn.Name() == nil || fn.Name().Literal() != "main" {
			continue
		}
		if n := len(fn.Parameters()); n > 1 {
			return nil, sourceErrorAt(fn, "func main must take 0 or 1 parameters (input), not %d", n)
		}
		return fn, nil
	}
	return nil, &SourceError{Message: "missing func main: declare func main(input) { ... } at the top level"}
}

// inputGlobal is the global that holds main's input during a run. It is not a
// valid identifier, so sources cannot name it.
const inputGlobal = "main input"

// withMainCall appends `main(input)` (or `main()`) to the program: one vm.Run
// then executes the top level and main, and leaves main's result on the VM's
// stack. Calling main with vm.Call after vm.Run instead would race in Risor
// v1.8.1: Call's start resets the VM's halt flag with a plain write while the
// cancellation watcher started by Run may be setting it.
func withMainCall(program *ast.Program, main *ast.Func) *ast.Program {
	var args []ast.Node
	if len(main.Parameters()) == 1 {
		args = append(args, ast.NewIdent(token.Token{Type: token.IDENT, Literal: inputGlobal}))
	}
	mainIdent := ast.NewIdent(token.Token{Type: token.IDENT, Literal: "main"})
	call := ast.NewCall(token.Token{Type: token.LPAREN, Literal: "("}, mainIdent, args)
	return ast.NewProgram(append(slices.Clone(program.Statements()), call))
}

// position returns the 1-based line and column where node starts.
func position(node ast.Node) (line, column int) {
	pos := startNode(node).Token().StartPosition
	return pos.LineNumber(), pos.ColumnNumber()
}

// startNode descends to the leftmost node of an expression: the token of
// `a.b(c)` is the '.', but a reader looks for the `a`.
func startNode(node ast.Node) ast.Node {
	for {
		switch n := node.(type) {
		case *ast.ObjectCall:
			node = n.Object()
		case *ast.GetAttr:
			node = n.Object()
		case *ast.Call:
			node = n.Function()
		case *ast.Index:
			node = n.Left()
		default:
			return node
		}
	}
}
