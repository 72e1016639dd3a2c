package zk

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

// TestScheduleLeaderFailover runs two `powny server` processes coordinated
// by ZooKeeper (2 s session) and a function scheduled every second: only
// the leading collector fires, each tick once, none missing. The leader is
// SIGKILLed: the other leads once the session expires and fires the latest
// tick missed meanwhile once (the missed ticks are coalesced), then every
// tick again. No tick ever runs twice, and every run succeeds.
func TestScheduleLeaderFailover(t *testing.T) {
	t.Parallel()
	const session = 2 * time.Second
	ctx := t.Context()
	c := newCluster(t, testcontainers.ZooKeeper(t)+testcontainers.ZooKeeperChroot(t), session)
	s1, api1 := c.StartServer("s1")
	s2, api2 := c.StartServer("s2")
	servers := map[string]*crashtest.Process{"s1": s1, "s2": s2}
	require.NoError(t, api1.Deploy(ctx, "ticker", crashtest.Ticker))

	ticks := func(n int, timeout time.Duration) crashtest.TickRuns {
		t.Helper()
		var tr crashtest.TickRuns
		crashtest.Eventually(t, timeout, 100*time.Millisecond, "the schedule fires", func() (bool, string) {
			var err error
			if tr, err = crashtest.ScheduledTicks(ctx, c.pool, "ticker"); err != nil {
				return false, err.Error()
			}
			return len(tr.Ticks) >= n, tr.String()
		})
		require.Empty(t, tr.Duplicates(), tr.String())
		return tr
	}
	tr := ticks(5, 15*time.Second)
	require.Empty(t, tr.Gaps(time.Second), tr.String())

	leader, err := c.leader(ctx)
	require.NoError(t, err)
	victim := servers[leader.Member]
	require.NotNil(t, victim, "leader %+v", leader)
	survivor, api := s2, api2
	if victim == s2 {
		survivor, api = s1, api1
	}
	require.Empty(t, survivor.LogLines("fired a schedule"), "a collector that does not lead fired")
	require.NoError(t, victim.Kill())
	killedAt := time.Now()
	lastBefore := tr.Ticks[len(tr.Ticks)-1]

	// The survivor leads after the session expires and fires again.
	tr = ticks(len(tr.Ticks)+5, session+15*time.Second)
	gaps := tr.Gaps(time.Second)
	require.LessOrEqual(t, len(gaps), 1, "ticks are missing other than during the failover: %s", tr)
	var firstAfter time.Time
	for _, tick := range tr.Ticks {
		if tick.After(lastBefore) {
			firstAfter = tick
			break
		}
	}
	t.Logf("last tick before the kill %s, first after %s (%s after the kill)", lastBefore.Format(time.RFC3339),
		firstAfter.Format(time.RFC3339), firstAfter.Sub(killedAt).Round(time.Millisecond))
	require.Less(t, firstAfter.Sub(lastBefore), session+3*time.Second, "the failover took too long: %s", tr)
	if len(gaps) == 1 {
		// The first tick after the gap is the latest missed one, fired once.
		require.Contains(t, survivor.Logs(), "missed_since=", "a tick after a gap was not logged as coalescing missed ones")
	}

	require.NoError(t, api.Deploy(ctx, "ticker", strings.Replace(crashtest.Ticker, `"schedule": "* * * * * *"`, `"timeout": "10s"`, 1)))
	crashtest.Eventually(t, 20*time.Second, 100*time.Millisecond, "every scheduled run succeeds", func() (bool, string) {
		if tr, err = crashtest.ScheduledTicks(ctx, c.pool, "ticker"); err != nil {
			return false, err.Error()
		}
		return tr.States["succeeded"] == len(tr.Ticks) || tr.States["failed"] > 0, tr.String()
	})
	require.Equal(t, len(tr.Ticks), tr.States["succeeded"], tr.String())
	require.Empty(t, tr.Duplicates(), tr.String())
	t.Logf("%s", tr)
}
