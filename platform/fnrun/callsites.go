package fnrun

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/risor-io/risor/ast"
	"github.com/risor-io/risor/compiler"
	"github.com/risor-io/risor/op"
	"github.com/risor-io/risor/token"
	"github.com/risor-io/risor/vm"
)

// callSite is a call expression in the source: the callee as written
// ("http.get", "error") and where the expression starts.
type callSite struct {
	Name   string `json:"n"`
	Line   int    `json:"l"`
	Column int    `json:"c"`
}

// callSites gives runtime errors a position. Risor v1.8.1 keeps no source
// positions in bytecode and its errors carry none. But while a builtin runs,
// the VM is still in the frame that called it: its instruction pointer
// (vm.GetIP) sits just past that Call instruction, in the code of the running
// function (see runningCodeID). The table maps a code's ID (compiler.Code.ID,
// kept by MarshalCode) and an instruction pointer to the call sites that may
// be there; a lookup keeps those whose callee is the builtin and answers only
// if they agree.
type callSites map[string]codeSites

type codeSites map[int][]callSite

// lookup finds the call of builtin name at ip in the code codeID; with no
// codeID, in any code.
func (s callSites) lookup(codeID, name string, ip int) (line, column int) {
	if codeID != "" {
		return agree(s[codeID][ip], name)
	}
	var sites []callSite
	for _, code := range s {
		sites = append(sites, code[ip]...)
	}
	return agree(sites, name)
}

func agree(sites []callSite, name string) (line, column int) {
	found := false
	for _, site := range sites {
		if site.Name != name {
			continue
		}
		if found && (site.Line != line || site.Column != column) {
			return 0, 0
		}
		line, column, found = site.Line, site.Column, true
	}
	return line, column
}

func (s callSites) add(codeID string, ip int, site callSite) {
	if site.Name == "" {
		return
	}
	code := s[codeID]
	if code == nil {
		code = codeSites{}
		s[codeID] = code
	}
	if !slices.Contains(code[ip], site) {
		code[ip] = append(code[ip], site)
	}
}

// runningCodeID returns the ID of the code the VM is executing; call it only
// on the VM's goroutine. Risor v1.8.1 exports the instruction pointer but not
// the code it points into, so this reads the VM's unexported activeCode field
// (a *vm.code, which embeds *compiler.Code as its first field) through an
// unsafe pointer, after checking that layout with reflection. If a Risor
// upgrade changes it, this returns "" and lookups fall back to the
// instruction pointer alone, which functions of the same shape can share.
func runningCodeID(machine *vm.VirtualMachine) string {
	if machine == nil {
		return ""
	}
	field := reflect.ValueOf(machine).Elem().FieldByName("activeCode")
	if !field.IsValid() || field.Kind() != reflect.Pointer || field.IsNil() {
		return ""
	}
	layout := field.Type().Elem()
	if layout.Kind() != reflect.Struct || layout.NumField() == 0 {
		return ""
	}
	first := layout.Field(0)
	if !first.Anonymous || first.Offset != 0 || first.Type != reflect.TypeFor[*compiler.Code]() {
		return ""
	}
	code := *(**compiler.Code)(field.UnsafePointer())
	if code == nil {
		return ""
	}
	return code.ID()
}

// buildCallSites pairs the Call instructions of code with the call expressions
// of program. It walks the syntax tree in the order in which Risor's compiler
// (v1.8.1, compiler/compiler.go) emits instructions, so that the n-th call
// expression of a function is its n-th Call instruction. What that order
// cannot tell is handled loosely, so that an error gets no line rather than a
// wrong one:
//   - a map literal compiles its entries in Go map order: when more than one
//     entry holds calls, each of its Call instructions gets all of them;
//   - function literals in such a map get their code in that order too, so a
//     function's code is found by name and call signature ("shape"), and by
//     order only among functions of one shape outside such maps.
//
// The walk also rejects what the sandbox does not run: import and go.
func buildCallSites(program *ast.Program, code *compiler.Code) (callSites, error) {
	w := &callWalker{}
	w.cur = w.enter("__main__")
	w.walk(program)
	if w.err != nil {
		return nil, w.err
	}
	sites := callSites{}
	codes := code.Flatten()
	w.funcs[0].zip(sites, codes[0].ID(), codeCalls(codes[0]))

	type shapeGroup struct {
		funcs     []*funcCalls
		codes     []*compiler.Code
		unordered bool
	}
	shapes := map[string]*shapeGroup{}
	groupOf := func(shape string) *shapeGroup {
		g, ok := shapes[shape]
		if !ok {
			g = &shapeGroup{}
			shapes[shape] = g
		}
		return g
	}
	for _, f := range w.funcs[1:] {
		g := groupOf(f.shape())
		g.funcs = append(g.funcs, f)
		g.unordered = g.unordered || f.unordered
	}
	for _, c := range codes[1:] {
		g := groupOf(shape(c.CodeName(), codeCalls(c)))
		g.codes = append(g.codes, c)
	}
	for _, g := range shapes {
		for i, c := range g.codes {
			calls := codeCalls(c)
			if !g.unordered && len(g.codes) == len(g.funcs) {
				g.funcs[i].zip(sites, c.ID(), calls)
				continue
			}
			for _, f := range g.funcs {
				f.zip(sites, c.ID(), calls)
			}
		}
	}
	return sites, nil
}

// callInstr is one Call instruction: the instruction pointer while its callee
// runs, and its argument count.
type callInstr struct{ ip, argc int }

func codeCalls(code *compiler.Code) []callInstr {
	var calls []callInstr
	for i := 0; i < code.InstructionCount(); {
		opcode := code.Instruction(i)
		next := i + 1 + op.GetInfo(opcode).OperandCount
		if opcode == op.Call {
			calls = append(calls, callInstr{ip: next, argc: int(code.Instruction(i + 1))})
		}
		i = next
	}
	return calls
}

// shape identifies a function by name and the argument counts of its calls,
// in an order that map literals cannot change.
func shape(name string, calls []callInstr) string {
	argcs := make([]int, len(calls))
	for i, c := range calls {
		argcs[i] = c.argc
	}
	slices.Sort(argcs)
	return fmt.Sprint(name, argcs)
}

// callEvent is a call expression that compiles to one Call instruction.
type callEvent struct {
	site  callSite
	argc  int
	group int // > 0: one of a map literal's calls, compiled in no fixed order
}

// funcCalls is one function's call expressions in compile order.
type funcCalls struct {
	name      string
	calls     []callEvent
	unordered bool // defined inside a map literal: its code's place is unknown
}

func (f *funcCalls) shape() string {
	calls := make([]callInstr, len(f.calls))
	for i, c := range f.calls {
		calls[i].argc = c.argc
	}
	return shape(f.name, calls)
}

func (f *funcCalls) zip(sites callSites, codeID string, calls []callInstr) {
	if len(f.calls) != len(calls) {
		return
	}
	for i, ev := range f.calls {
		if ev.group == 0 {
			sites.add(codeID, calls[i].ip, ev.site)
			continue
		}
		for _, other := range f.calls {
			if other.group == ev.group {
				sites.add(codeID, calls[i].ip, other.site)
			}
		}
	}
}

type callWalker struct {
	funcs     []*funcCalls // in the order the compiler creates their code; [0] is the top level
	cur       *funcCalls
	pipe      bool // in a pipe stage, calls compile to partials, not Call instructions
	unordered int  // depth of map literals with several entries
	// template is the template string being walked: the positions of its
	// expressions are relative to the template, so its calls take its own.
	template ast.Node
	groups   int
	err      error
}

func (w *callWalker) enter(name string) *funcCalls {
	f := &funcCalls{name: name, unordered: w.unordered > 0}
	w.funcs = append(w.funcs, f)
	return f
}

func (w *callWalker) call(callee ast.Node, name string, argc int) {
	if w.template != nil {
		callee = w.template
	}
	line, col := position(callee)
	w.cur.calls = append(w.cur.calls, callEvent{site: callSite{Name: name, Line: line, Column: col}, argc: argc})
}

func (w *callWalker) reject(node ast.Node, msg string) {
	if w.err == nil {
		w.err = sourceErrorAt(node, "%s", msg)
	}
}

func (w *callWalker) walkAll(nodes ...ast.Node) {
	for _, n := range nodes {
		w.walk(n)
	}
}

// walk visits node's sub-expressions in the order compiler.Compiler.compile
// emits their code. Keep it in step with Risor's compiler.
func (w *callWalker) walk(node ast.Node) {
	switch n := node.(type) {
	case nil:
	case *ast.Program:
		w.walkAll(n.Statements()...)
	case *ast.Block:
		w.walkAll(n.Statements()...)
	case *ast.Var:
		_, value := n.Value()
		w.walk(value)
	case *ast.Const:
		_, value := n.Value()
		w.walk(value)
	case *ast.MultiVar:
		_, value := n.Value()
		w.walk(value)
	case *ast.Assign:
		if idx := n.Index(); idx != nil {
			if n.Operator() != "=" { // compound: load the current item first
				w.walkAll(idx.Left(), idx.Index())
			}
			w.walkAll(n.Value(), idx.Left(), idx.Index())
		} else {
			w.walk(n.Value())
		}
	case *ast.SetAttr:
		if n.Token().Type != token.ASSIGN { // compound: load the current attribute first
			w.walk(n.Object())
		}
		w.walkAll(n.Value(), n.Object())
	case *ast.Return:
		if v := n.Value(); v != nil {
			w.walk(v)
		}
	case *ast.String:
		if n.Template() != nil {
			outer := w.template
			if outer == nil {
				w.template = n
			}
			for _, e := range n.TemplateExpressions() {
				if e != nil {
					w.walk(e)
				}
			}
			w.template = outer
		}
	case *ast.If:
		w.walk(n.Condition())
		w.walk(n.Consequence())
		if alt := n.Alternative(); alt != nil {
			w.walk(alt)
		}
	case *ast.Ternary:
		w.walkAll(n.Condition(), n.IfTrue(), n.IfFalse())
	case *ast.Switch:
		w.walkSwitch(n)
	case *ast.For:
		w.walkFor(n)
	case *ast.Infix:
		w.walkAll(n.Left(), n.Right())
	case *ast.Prefix:
		w.walk(n.Right())
	case *ast.In:
		w.walkAll(n.Right(), n.Left())
	case *ast.Index:
		w.walkAll(n.Left(), n.Index())
	case *ast.Slice:
		w.walk(n.Left())
		if to := n.ToIndex(); to != nil {
			w.walk(to)
		}
		if from := n.FromIndex(); from != nil {
			w.walk(from)
		}
	case *ast.Range:
		w.walk(n.Container())
	case *ast.List:
		for _, item := range n.Items() {
			w.walk(item)
		}
	case *ast.Set:
		for _, item := range n.Items() {
			w.walk(item)
		}
	case *ast.Map:
		w.walkMap(n)
	case *ast.GetAttr:
		w.walk(n.Object())
	case *ast.Call:
		w.walk(n.Function())
		for _, arg := range n.Arguments() {
			w.walk(arg)
		}
		if !w.pipe {
			w.call(n, calleeName(n.Function()), len(n.Arguments()))
		}
	case *ast.ObjectCall:
		w.walk(n.Object())
		method, ok := n.Call().(*ast.Call)
		if !ok {
			return // a compile error already
		}
		for _, arg := range method.Arguments() {
			w.walk(arg)
		}
		if !w.pipe {
			w.call(n, objectCallName(n), len(method.Arguments()))
		}
	case *ast.Pipe:
		w.walkPipe(n)
	case *ast.Func:
		w.walkFunc(n)
	case *ast.Defer:
		w.walkPartial(n.Call())
	case *ast.Go:
		w.reject(n, "go statements are not available: functions run without concurrency")
	case *ast.Import, *ast.FromImport:
		w.reject(n, "import is not available: the modules a function may use (json, strings, math, http, ...) are already globals")
	case *ast.Send:
		w.walkAll(n.Channel(), n.Value())
	case *ast.Receive:
		w.walk(n.Channel())
	}
}

func (w *callWalker) walkSwitch(n *ast.Switch) {
	w.walk(n.Value())
	var def *ast.Case
	for _, c := range n.Choices() {
		if c.IsDefault() {
			def = c
			continue
		}
		for _, e := range c.Expressions() {
			w.walk(e)
		}
	}
	for _, c := range n.Choices() {
		if !c.IsDefault() && c.Block() != nil {
			w.walk(c.Block())
		}
	}
	if def != nil && def.Block() != nil {
		w.walk(def.Block())
	}
}

func (w *callWalker) walkFor(n *ast.For) {
	switch {
	case n.IsSimpleLoop():
	case n.Init() == nil && n.Post() == nil:
		// A range loop compiles the container only, not the Range node.
		rhs := n.Condition()
		switch cond := n.Condition().(type) {
		case *ast.Var:
			_, rhs = cond.Value()
		case *ast.MultiVar:
			_, rhs = cond.Value()
		}
		if r, ok := rhs.(*ast.Range); ok {
			rhs = r.Container()
		}
		w.walk(rhs)
	default:
		w.walkAll(n.Init(), n.Condition())
		w.walk(n.Consequence())
		w.walk(n.Post())
		return
	}
	w.walk(n.Consequence())
}

func (w *callWalker) walkMap(n *ast.Map) {
	items := n.Items()
	if len(items) > 1 {
		w.unordered++
		defer func() { w.unordered-- }()
	}
	start := len(w.cur.calls)
	entriesWithCalls := 0
	for k, v := range items {
		before := len(w.cur.calls)
		if s, ok := k.(*ast.String); ok {
			w.walk(s)
		}
		w.walk(v)
		if len(w.cur.calls) > before {
			entriesWithCalls++
		}
	}
	if entriesWithCalls > 1 {
		w.groups++
		for i := start; i < len(w.cur.calls); i++ {
			w.cur.calls[i].group = w.groups
		}
	}
}

// walkPipe: `x | f(a) | g` compiles x, then each stage with the pipe flag set
// (its calls, even in arguments, become partials) followed by one Call.
func (w *callWalker) walkPipe(n *ast.Pipe) {
	exprs := n.Expressions()
	if len(exprs) == 0 {
		return
	}
	w.walk(exprs[0])
	w.pipe = true
	for _, stage := range exprs[1:] {
		w.walk(stage)
		w.call(stage, stageName(stage), 1)
	}
	w.pipe = false
}

func (w *callWalker) walkFunc(n *ast.Func) {
	name := ""
	if n.Name() != nil {
		name = n.Name().Literal()
	}
	outer, outerPipe := w.cur, w.pipe
	w.cur, w.pipe = w.enter(name), false
	// Like the compiler's normalizeFunctionBlock: nothing after the first
	// return statement is compiled.
	for _, stmt := range n.Body().Statements() {
		w.walk(stmt)
		if _, ok := stmt.(*ast.Return); ok {
			break
		}
	}
	w.cur, w.pipe = outer, outerPipe
}

// walkPartial: a deferred call compiles its callee and arguments, and a
// Partial instead of a Call.
func (w *callWalker) walkPartial(call ast.Expression) {
	switch c := call.(type) {
	case *ast.Call:
		w.walk(c.Function())
		w.walkAll(c.Arguments()...)
	case *ast.ObjectCall:
		w.walk(c.Object())
		if method, ok := c.Call().(*ast.Call); ok {
			w.walkAll(method.Arguments()...)
		}
	}
}

// calleeName is a callee as the sandbox names its builtins: "now", "http.get".
// Other callees (methods of values, computed functions) get "".
func calleeName(fn ast.Node) string {
	switch f := fn.(type) {
	case *ast.Ident:
		return f.Literal()
	case *ast.GetAttr:
		if obj, ok := f.Object().(*ast.Ident); ok {
			return obj.Literal() + "." + f.Name()
		}
	}
	return ""
}

func objectCallName(n *ast.ObjectCall) string {
	obj, ok := n.Object().(*ast.Ident)
	method, isCall := n.Call().(*ast.Call)
	if !ok || !isCall {
		return ""
	}
	return obj.Literal() + "." + strings.TrimSpace(method.Function().String())
}

func stageName(stage ast.Node) string {
	switch s := stage.(type) {
	case *ast.Call:
		return calleeName(s.Function())
	case *ast.ObjectCall:
		return objectCallName(s)
	default:
		return calleeName(s)
	}
}
