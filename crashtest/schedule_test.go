package crashtest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/testdb"
)

// TestScheduleOncePerCluster runs two `powny server` processes on one
// database without ZooKeeper, so that both collectors act, and a function
// scheduled every second: each tick runs exactly once, none is missing.
// Then the server that fired the most ticks is SIGKILLed: the ticks go on
// from the other, still once each with none missing. A version without a
// schedule stops them, and the runs the dead server had taken are rescued
// and succeed.
func TestScheduleOncePerCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, dsn := testdb.New(t)
	c := NewCluster(t, dsn)
	s1, api1 := c.StartServer("s1")
	s2, api2 := c.StartServer("s2")
	require.NoError(t, api1.Deploy(ctx, "ticker", Ticker))

	// waitTicks waits until n more ticks than after have fired, and checks
	// that each ran once with none missing.
	waitTicks := func(after, n int) TickRuns {
		t.Helper()
		var tr TickRuns
		Eventually(t, time.Duration(n+10)*time.Second, 100*time.Millisecond, "the schedule fires", func() (bool, string) {
			var err error
			if tr, err = ScheduledTicks(ctx, pool, "ticker"); err != nil {
				return false, err.Error()
			}
			return len(tr.Ticks) >= after+n, tr.String()
		})
		require.Empty(t, tr.Duplicates(), tr.String())
		require.Empty(t, tr.Gaps(time.Second), tr.String())
		return tr
	}
	tr := waitTicks(0, 5)

	fired := func(p *Process) int { return len(p.LogLines("fired a schedule")) }
	t.Logf("before the kill: %s fired %d ticks, %s %d", s1.Name, fired(s1), s2.Name, fired(s2))
	victim, survivor, api := s1, s2, api2
	if fired(s2) > fired(s1) {
		victim, survivor, api = s2, s1, api1
	}
	require.NoError(t, victim.Kill())
	before := fired(survivor)
	tr = waitTicks(len(tr.Ticks), 5)
	require.Greater(t, fired(survivor), before, "the survivor fired none of the ticks after the kill")

	require.NoError(t, api.Deploy(ctx, "ticker", strings.Replace(Ticker, `"schedule": "* * * * * *"`, `"timeout": "10s"`, 1)))
	Eventually(t, 20*time.Second, 100*time.Millisecond, "every scheduled run succeeds", func() (bool, string) {
		var err error
		if tr, err = ScheduledTicks(ctx, pool, "ticker"); err != nil {
			return false, err.Error()
		}
		return tr.States["succeeded"] == len(tr.Ticks) || tr.States["failed"] > 0, tr.String()
	})
	require.Equal(t, len(tr.Ticks), tr.States["succeeded"], tr.String())
	require.Empty(t, tr.Duplicates(), tr.String())
	require.Empty(t, tr.Gaps(time.Second), tr.String())
	t.Logf("%s", tr)
}
