package crashtest

import (
	"strconv"
	"strings"
	"time"
)

// LogLine is one line of a process's log (slog's text format).
type LogLine struct {
	At    time.Time
	Level string
	Msg   string
	// Attrs are the line's other attributes, unquoted.
	Attrs map[string]string
}

// LogLines returns the lines of the process's log whose message contains
// msg, in order. Lines that do not parse are skipped.
func (p *Process) LogLines(msg string) []LogLine {
	return ParseLog(p.Logs(), msg)
}

// ParseLog parses the lines of a slog text log whose message contains msg.
func ParseLog(log, msg string) []LogLine {
	var out []LogLine
	for line := range strings.Lines(log) {
		if !strings.Contains(line, msg) {
			continue
		}
		l, ok := parseLogLine(strings.TrimRight(line, "\n"))
		if ok && strings.Contains(l.Msg, msg) {
			out = append(out, l)
		}
	}
	return out
}

// parseLogLine reads key=value pairs, values quoted as Go strings when they
// need to be.
func parseLogLine(s string) (LogLine, bool) {
	l := LogLine{Attrs: map[string]string{}}
	for s != "" {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return l, false
		}
		key := s[:eq]
		s = s[eq+1:]
		var value string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return l, false
			}
			value, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			value, s = s[:end], s[end:]
		}
		switch key {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return l, false
			}
			l.At = t
		case "level":
			l.Level = value
		case "msg":
			l.Msg = value
		default:
			l.Attrs[key] = value
		}
	}
	return l, !l.At.IsZero()
}
