package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// timeLayout is RFC 3339 to the second, in the zone the times are shown in.
const timeLayout = "2006-01-02T15:04:05Z07:00"

// shortSHALen is how many hex digits of a SHA-256 tables show.
const shortSHALen = 12

// table aligns rows of cells in columns. It keeps the first write error for
// flush to return, so that rows can be written without checking each one.
type table struct {
	tw  *tabwriter.Writer
	err error
}

// newTable returns a table that writes to w when flushed.
func newTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

// writeRow writes cells as one table row.
func writeRow(t *table, cells ...string) {
	if t.err == nil {
		_, t.err = io.WriteString(t.tw, strings.Join(cells, "\t")+"\n")
	}
}

// flush flushes a table and names the failure.
func flush(t *table) error {
	err := t.err
	if err == nil {
		err = t.tw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// writef prints to w like fmt.Fprintf and names the failure.
func writef(w io.Writer, format string, args ...any) error {
	if _, err := fmt.Fprintf(w, format, args...); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// prettyJSON indents raw JSON with prefix before every line but the first.
// Missing JSON is null; JSON that does not parse is returned as it is.
func prettyJSON(raw json.RawMessage, prefix string) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "null"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, prefix, "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// formatTime shows t in loc to the second, or "-" when unset.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	if loc != nil {
		t = t.In(loc)
	}
	return t.Format(timeLayout)
}

// formatTimePtr is formatTime for optional times.
func formatTimePtr(t *time.Time, loc *time.Location) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t, loc)
}

// formatDuration rounds d to what a reader cares about: milliseconds under
// a second, tenths of a second under a minute, seconds above.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// shortSHA returns the first digits of a SHA-256.
func shortSHA(sum string) string {
	if len(sum) > shortSHALen {
		return sum[:shortSHALen]
	}
	return sum
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
