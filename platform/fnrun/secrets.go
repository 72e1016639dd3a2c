package fnrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// SecretMask replaces every secret value a run has read, wherever fnrun or
// the worker scrubs one out.
const SecretMask = "[secret]"

// MinSecretLen is the shortest secret value that is scrubbed: replacing every
// "ab" or "42" in logs and results would mangle them and hide nothing worth
// hiding. Shorter secrets are returned by secret() but never scrubbed.
const MinSecretLen = 4

// maxSecretEscapes is how deep in nested JSON strings a secret with
// characters that JSON escapes (quotes, backslashes, <, >, &, controls) is
// still found. Secrets without such characters are found at any depth.
const maxSecretEscapes = 4

// Secrets is the set of secret values one run has read with secret(). fnrun
// scrubs them (replaces them with SecretMask) from the run's log messages,
// the arguments and results of its effects, main's result and the messages
// of RunErrors. The worker also scrubs the journal entries it commits with
// it (see ScrubJSON and Scrub): a journal must never hold a secret.
//
// A nil *Secrets holds nothing and scrubs nothing. Safe for concurrent use.
type Secrets struct {
	mu     sync.Mutex
	values []string // distinct, at least MinSecretLen bytes long
	repl   *strings.Replacer
}

// NewSecrets returns an empty set, to pass as RunOptions.Secrets.
func NewSecrets() *Secrets {
	return &Secrets{}
}

// add records a secret value the run has read.
func (s *Secrets) add(value string) {
	if s == nil || len(value) < MinSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.values, value) {
		return
	}
	s.values = append(s.values, value)
	// Longest first, so that a secret containing another is masked whole.
	slices.SortFunc(s.values, func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, v := range s.values {
		pairs = append(pairs, v, SecretMask)
		if q := strconv.Quote(v); q[1:len(q)-1] != v {
			pairs = append(pairs, q[1:len(q)-1], SecretMask) // as %q writes it
		}
		// The forms it takes inside JSON strings, nested up to
		// maxSecretEscapes deep (JSON in a string in JSON...).
		escaped := v
		for range maxSecretEscapes {
			q, err := json.Marshal(escaped)
			if err != nil || string(q[1:len(q)-1]) == escaped {
				break
			}
			escaped = string(q[1 : len(q)-1])
			pairs = append(pairs, escaped, SecretMask)
		}
	}
	s.repl = strings.NewReplacer(pairs...)
}

// Len is the number of secret values held.
func (s *Secrets) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}

func (s *Secrets) replacer() *strings.Replacer {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repl
}

// Scrub returns text with every secret value replaced by SecretMask.
func (s *Secrets) Scrub(text string) string {
	repl := s.replacer()
	if repl == nil {
		return text
	}
	return repl.Replace(text)
}

// ScrubJSON returns a JSON document with every secret value masked in its
// strings and object keys; a number whose text holds a secret becomes the
// string SecretMask. The result is valid JSON when data is; data that holds
// no secret is returned as it is. Invalid JSON is masked as text.
func (s *Secrets) ScrubJSON(data []byte) []byte {
	repl := s.replacer()
	if repl == nil || len(data) == 0 {
		return data
	}
	if repl.Replace(string(data)) == string(data) {
		return data // no secret in any form
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil || dec.More() {
		return []byte(repl.Replace(string(data)))
	}
	out, err := json.Marshal(scrubValue(repl, value))
	if err != nil {
		return []byte(repl.Replace(string(data)))
	}
	return out
}

// scrubPlain masks secrets in plain data (Call.Args and effect results).
// It copies what it changes and leaves value untouched.
func (s *Secrets) scrubPlain(value any) any {
	repl := s.replacer()
	if repl == nil {
		return value
	}
	return scrubValue(repl, value)
}

func scrubValue(repl *strings.Replacer, value any) any {
	switch v := value.(type) {
	case string:
		return repl.Replace(v)
	case json.Number:
		if repl.Replace(string(v)) != string(v) {
			return SecretMask
		}
		return v
	case json.RawMessage:
		return json.RawMessage((&Secrets{repl: repl}).ScrubJSON(v))
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = scrubValue(repl, item)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			out[repl.Replace(k)] = scrubValue(repl, item)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, item := range v {
			out[repl.Replace(k)] = repl.Replace(item)
		}
		return out
	}
	// Numbers, bools and nil: int64 secrets are not worth a type change.
	return value
}

// scrubOutcome masks secrets out of a run's JSON result and its error.
func (s *Secrets) scrubOutcome(result []byte, err error) ([]byte, error) {
	if s.Len() == 0 {
		return result, err
	}
	if err != nil {
		if rerr, ok := errors.AsType[*RunError](err); ok {
			copied := *rerr
			copied.Message = s.Scrub(copied.Message)
			return nil, &copied
		}
		return nil, errors.New(s.Scrub(err.Error()))
	}
	return s.ScrubJSON(result), nil
}
