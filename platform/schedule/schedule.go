package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed spec. The zero Schedule never fires.
type Schedule struct {
	spec  string
	cron  cron.Schedule
	every time.Duration // @every DURATION: ticks are this far apart
}

// parser reads 5 or 6 fields (an optional leading seconds field) and
// descriptors, as the package documentation says.
func parser() cron.Parser {
	return cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// Parse parses a spec. Its errors say what is wrong without repeating the
// spec, e.g. "expected 5 to 6 fields, found 3".
func Parse(spec string) (s Schedule, err error) {
	trimmed := strings.TrimSpace(spec)
	switch {
	case trimmed == "":
		return Schedule{}, errors.New("empty spec")
	case strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ="):
		return Schedule{}, errors.New("time zones are not supported: schedules run in UTC")
	case !strings.HasPrefix(trimmed, "@"):
		// cron's own message lists the fields after this.
		if n := len(strings.Fields(trimmed)); n < 5 || n > 6 {
			return Schedule{}, fmt.Errorf("expected 5 to 6 fields, found %d", n)
		}
	}
	defer func() {
		// Belt and braces: the parser must not take the process down.
		if r := recover(); r != nil {
			s, err = Schedule{}, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	parsed, err := parser().Parse(trimmed)
	if err != nil {
		return Schedule{}, err
	}
	s = Schedule{spec: spec, cron: parsed}
	if delay, ok := parsed.(cron.ConstantDelaySchedule); ok {
		if d, _ := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(trimmed, "@every"))); d < time.Second {
			return Schedule{}, errors.New("@every needs a duration of at least 1s")
		}
		s.every = delay.Delay
	}
	// A spec naming a day no calendar has (February 30) never fires.
	if s.Next(time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, errors.New("never fires: no date matches it")
	}
	return s, nil
}

// String returns the spec as given to Parse.
func (s Schedule) String() string { return s.spec }

// Next returns the first tick strictly after after, in UTC, with no
// fraction of a second; the zero time when none comes within five years
// (or s is the zero Schedule).
func (s Schedule) Next(after time.Time) time.Time {
	if s.cron == nil {
		return time.Time{}
	}
	return s.cron.Next(after.UTC())
}

// Last returns the latest tick at or before now, counting from first, a
// tick at or before now (the first tick due); first itself when no later
// tick is due yet. The ticks in between are skipped: a schedule that missed
// several ticks fires once, for the latest.
func (s Schedule) Last(first, now time.Time) time.Time {
	first, now = first.UTC(), now.UTC()
	if s.cron == nil || !first.Before(now) {
		return first
	}
	if s.every > 0 {
		// Ticks are first + k*every; count them rather than step through.
		return first.Add(now.Sub(first) / s.every * s.every)
	}
	// Stepping from first through every tick could take millions of steps
	// after a long gap with a spec that fires every second. Cron ticks sit
	// on the calendar, so any tick found is one of the chain: look back from
	// now in growing windows for one, then step forward from it.
	last := first
	for w := time.Second; w < now.Sub(first); w *= 2 {
		if t := s.Next(now.Add(-w)); !t.IsZero() && !t.After(now) {
			last = t
			break
		}
	}
	for t := s.Next(last); !t.IsZero() && !t.After(now); t = s.Next(t) {
		last = t
	}
	return last
}
