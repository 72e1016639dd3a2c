package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/schedule"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseValid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		spec  string
		after string // RFC 3339
		next  string
	}{
		{spec: "*/5 * * * *", after: "2025-03-01T10:02:30Z", next: "2025-03-01T10:05:00Z"},
		{spec: "*/5 * * * *", after: "2025-03-01T10:05:00Z", next: "2025-03-01T10:10:00Z"},
		{spec: "0 9 * * 1-5", after: "2025-03-01T10:00:00Z", next: "2025-03-03T09:00:00Z"}, // Saturday → Monday
		{spec: "* * * * * *", after: "2025-03-01T10:00:00.300Z", next: "2025-03-01T10:00:01Z"},
		{spec: "30 */10 * * * *", after: "2025-03-01T10:00:00Z", next: "2025-03-01T10:00:30Z"},
		{spec: "  0 0 1 jan *  ", after: "2025-03-01T00:00:00Z", next: "2026-01-01T00:00:00Z"},
		{spec: "@hourly", after: "2025-03-01T10:59:59Z", next: "2025-03-01T11:00:00Z"},
		{spec: "@daily", after: "2025-03-01T10:00:00Z", next: "2025-03-02T00:00:00Z"},
		{spec: "@every 30s", after: "2025-03-01T10:00:00.250Z", next: "2025-03-01T10:00:30Z"},
		{spec: "@every 1h30m", after: "2025-03-01T10:00:00Z", next: "2025-03-01T11:30:00Z"},
		{spec: "0 0 29 2 *", after: "2025-03-01T00:00:00Z", next: "2028-02-29T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			s, err := schedule.Parse(tt.spec)
			require.NoError(t, err)
			require.Equal(t, tt.spec, s.String())
			next := s.Next(at(tt.after))
			require.Equal(t, at(tt.next), next)
			require.Equal(t, time.UTC, next.Location())
		})
	}
}

// TestNextIsUTC: a time given in another zone gives the same UTC tick.
func TestNextIsUTC(t *testing.T) {
	t.Parallel()
	s, err := schedule.Parse("0 9 * * *")
	require.NoError(t, err)
	paris := time.FixedZone("UTC+1", 3600)
	after := time.Date(2025, 3, 1, 9, 30, 0, 0, paris) // 08:30 UTC
	require.Equal(t, at("2025-03-01T09:00:00Z"), s.Next(after))
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		spec    string
		message string
	}{
		{spec: "", message: "empty spec"},
		{spec: "   ", message: "empty spec"},
		{spec: "*/5 * *", message: "expected 5 to 6 fields, found 3"},
		{spec: "* * * * * * *", message: "expected 5 to 6 fields, found 7"},
		{spec: "60 * * * *", message: "end of range (60) above maximum (59): 60"},
		{spec: "* * * * mon-xyz", message: "failed to parse int from xyz"},
		{spec: "*/0 * * * *", message: "step of range should be a positive number: */0"},
		{spec: "0 0 30 2 *", message: "never fires: no date matches it"},
		{spec: "@fortnightly", message: "unrecognized descriptor: @fortnightly"},
		{spec: "@every soon", message: "failed to parse duration @every soon"},
		{spec: "@every 500ms", message: "@every needs a duration of at least 1s"},
		{spec: "@every -5s", message: "@every needs a duration of at least 1s"},
		{spec: "CRON_TZ=Europe/Paris 0 9 * * *", message: "time zones are not supported: schedules run in UTC"},
		{spec: "TZ=UTC", message: "time zones are not supported: schedules run in UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			_, err := schedule.Parse(tt.spec)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestLast(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		spec  string
		first string
		now   string
		want  string
	}{
		{name: "NotDueYet", spec: "*/5 * * * *", first: "2025-03-01T10:05:00Z", now: "2025-03-01T10:04:00Z", want: "2025-03-01T10:05:00Z"},
		{name: "OnlyFirst", spec: "*/5 * * * *", first: "2025-03-01T10:05:00Z", now: "2025-03-01T10:09:59Z", want: "2025-03-01T10:05:00Z"},
		{name: "Exactly", spec: "*/5 * * * *", first: "2025-03-01T10:05:00Z", now: "2025-03-01T10:10:00Z", want: "2025-03-01T10:10:00Z"},
		{name: "Missed", spec: "*/5 * * * *", first: "2025-03-01T10:05:00Z", now: "2025-03-01T12:31:00Z", want: "2025-03-01T12:30:00Z"},
		{name: "EverySecondAYear", spec: "* * * * * *", first: "2024-03-01T10:05:00Z", now: "2025-03-01T10:05:07.5Z", want: "2025-03-01T10:05:07Z"},
		{name: "Sparse", spec: "* * 9 * * *", first: "2025-03-01T09:00:00Z", now: "2025-03-01T15:00:00Z", want: "2025-03-01T09:59:59Z"},
		{name: "Weekdays", spec: "0 9 * * 1-5", first: "2025-02-27T09:00:00Z", now: "2025-03-02T23:00:00Z", want: "2025-02-28T09:00:00Z"},
		{name: "Every", spec: "@every 30s", first: "2025-03-01T10:00:07Z", now: "2025-03-01T11:00:00Z", want: "2025-03-01T10:59:37Z"},
		{name: "EveryExact", spec: "@every 30s", first: "2025-03-01T10:00:07Z", now: "2025-03-01T10:01:07Z", want: "2025-03-01T10:01:07Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := schedule.Parse(tt.spec)
			require.NoError(t, err)
			got := s.Last(at(tt.first), at(tt.now))
			require.Equal(t, at(tt.want), got)
			if at(tt.now).Sub(at(tt.first)) > 24*time.Hour {
				return
			}
			// The slow, obvious way agrees.
			want := at(tt.first)
			for n := s.Next(want); !n.After(at(tt.now)); n = s.Next(n) {
				want = n
			}
			require.Equal(t, want, got)
		})
	}
}

func TestZeroNeverFires(t *testing.T) {
	t.Parallel()
	var s schedule.Schedule
	require.True(t, s.Next(time.Now()).IsZero())
}
