package match

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// matcher tests one scalar leaf of an event.
type matcher interface {
	match(v scalar) bool
	// source returns the string the matcher was compiled from.
	source() string
}

// pattern is a regex matcher ("re:..."); it matches strings only.
type pattern struct{ re *regexp.Regexp }

func (m pattern) source() string { return "re:" + m.re.String() }

func (m pattern) match(v scalar) bool {
	return v.kind == kindString && m.re.MatchString(v.s)
}

// op is a comparison operator.
type op uint8

const (
	opGE op = iota
	opGT
	opLE
	opLT
	opEQ
	opNE
)

// compare is a numeric comparison (">= 90"); it matches numbers only.
type compare struct {
	op  op
	n   float64
	src string
}

func (m compare) source() string { return m.src }

func (m compare) match(v scalar) bool {
	if v.kind != kindNumber {
		return false
	}
	switch m.op {
	case opGE:
		return v.n >= m.n
	case opGT:
		return v.n > m.n
	case opLE:
		return v.n <= m.n
	case opLT:
		return v.n < m.n
	case opEQ:
		return v.n == m.n
	default:
		return v.n != m.n
	}
}

// globToken is one part of a glob: a literal run, "?" or "*".
type globToken struct {
	kind byte // 'l' literal, '?' one character, '*' any run
	lit  string
}

// glob matches a whole string against "*" (any run of characters) and "?"
// (one character).
type glob struct {
	tokens []globToken
	src    string
}

func (m glob) source() string { return m.src }

// parseGlob parses a string that contains "*" or "?". `\*`, `\?` and `\\`
// are a literal star, question mark and backslash; any other backslash is
// literal. meta is false if the string has no unescaped "*" or "?": it is
// then an exact match of text, the unescaped string.
func parseGlob(s string) (g glob, text string, meta bool) {
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			g.tokens = append(g.tokens, globToken{kind: 'l', lit: lit.String()})
			lit.Reset()
		}
	}
	var all strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			i++
			lit.WriteByte(s[i])
			all.WriteByte(s[i])
		case c == '*':
			meta = true
			flush()
			if n := len(g.tokens); n == 0 || g.tokens[n-1].kind != '*' {
				g.tokens = append(g.tokens, globToken{kind: '*'})
			}
		case c == '?':
			meta = true
			flush()
			g.tokens = append(g.tokens, globToken{kind: '?'})
		default:
			lit.WriteByte(c)
			all.WriteByte(c)
		}
	}
	flush()
	g.src = s
	return g, all.String(), meta
}

func (m glob) match(v scalar) bool {
	return v.kind == kindString && m.matchString(v.s)
}

// matchString is the classic wildcard match with one backtracking point:
// on a mismatch, the last "*" absorbs one more character and matching
// resumes after it.
func (m glob) matchString(s string) bool {
	toks := m.tokens
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(toks) {
			switch t := toks[p]; t.kind {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				_, size := utf8.DecodeRuneInString(s[i:])
				i += size
				p++
				continue
			default:
				if strings.HasPrefix(s[i:], t.lit) {
					i += len(t.lit)
					p++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, size := utf8.DecodeRuneInString(s[starI:])
		starI += size
		i = starI
		p = starP + 1
	}
	for p < len(toks) && toks[p].kind == '*' {
		p++
	}
	return p == len(toks)
}
