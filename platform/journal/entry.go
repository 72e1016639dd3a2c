package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrCorrupt is wrapped by the errors of DecodeAll: a stored checkpoint row
// is not a JSON array of entries, or the entries' sequence numbers have a gap
// or an overlap.
var ErrCorrupt = errors.New("journal: corrupt")

// Entry is one journaled call.
type Entry struct {
	// Seq is the entry's 0-based position in the invocation's journal.
	Seq int `json:"seq"`
	// Name is the call's fnrun.Call.Name, such as "http.request".
	Name string `json:"name"`
	// Digest identifies the call's arguments (see Digest).
	Digest string `json:"digest"`
	// Line is the source line of the call, 0 if unknown.
	Line int `json:"line,omitempty"`
	// Result is what the call returned, as JSON. Empty for a null result.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is the message of the ordinary (catchable) error the call
	// returned; a replay returns an error with the same message.
	Error string `json:"error,omitempty"`
	// At is when the call was performed, in UTC.
	At time.Time `json:"at"`
}

// Encode encodes entries as one checkpoint row: a JSON array.
func Encode(entries []Entry) ([]byte, error) {
	if entries == nil {
		entries = []Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("journal: encode entries: %w", err)
	}
	return data, nil
}

// DecodeAll decodes checkpoint rows, in the order they were written, into
// one journal. The entries' sequence numbers must run from 0 without a gap or
// an overlap; otherwise the error (which wraps ErrCorrupt) names the row and
// the sequence numbers.
func DecodeAll(rows [][]byte) ([]Entry, error) {
	var entries []Entry
	for i, row := range rows {
		var batch []Entry
		if err := json.Unmarshal(row, &batch); err != nil {
			return nil, fmt.Errorf("%w: checkpoint row %d is not a JSON array of entries: %w", ErrCorrupt, i, err)
		}
		for _, e := range batch {
			want := len(entries)
			switch {
			case e.Seq > want:
				return nil, fmt.Errorf("%w: gap in checkpoint row %d: entry seq %d follows seq %d (seqs %d to %d are missing)",
					ErrCorrupt, i, e.Seq, want-1, want, e.Seq-1)
			case e.Seq < want:
				return nil, fmt.Errorf("%w: overlap in checkpoint row %d: entry seq %d repeats an earlier seq (expected %d)",
					ErrCorrupt, i, e.Seq, want)
			}
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// Digest returns the digest of a call's arguments: the hex of the first 16
// bytes of the SHA-256 of their JSON encoding.
//
// encoding/json writes map keys sorted, and an integer writes the same text
// whether it is an int64, an integral float64 or a json.Number, so equal plain
// data digests the same. Replay compares digests computed live, on both runs,
// from Risor values the same builtin turned into plain data: the types match
// anyway.
func Digest(args any) (string, error) {
	data, err := json.Marshal(args)
	if err != nil {
		return "", fmt.Errorf("journal: encode call arguments: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16]), nil
}

// encodeResult encodes a call's result; a null result is stored as nothing.
func encodeResult(result any) (json.RawMessage, error) {
	if result == nil {
		return nil, nil
	}
	data, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	if string(data) == "null" {
		return nil, nil
	}
	return data, nil
}

// decodeResult decodes a recorded result, with numbers as json.Number.
func decodeResult(data json.RawMessage) (any, error) {
	if len(data) == 0 {
		return nil, nil
	}
	// A string without escapes, the most common result (now, uuid), needs no
	// decoder.
	if n := len(data); n >= 2 && data[0] == '"' && data[n-1] == '"' && bytes.IndexByte(data[1:n-1], '\\') < 0 && bytes.IndexByte(data[1:n-1], '"') < 0 {
		return string(data[1 : n-1]), nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return value, nil
}
