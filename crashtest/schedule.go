package crashtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Ticker is a function that runs every second on its schedule and returns
// the tick it ran for.
const Ticker = `config := {"schedule": "* * * * * *"}

func main(event) {
  log.info("tick", event.tick)
  return event.tick
}
`

// StartServer starts `powny server` (api, worker and collector in one
// process) with POWNY_WORKER_ID id, on a free port, waits until its API
// answers, and returns it with a client of its API. (Cluster.API calls the
// first server's when no API process was started.)
func (c *Cluster) StartServer(id string) (*Process, *API) {
	c.t.Helper()
	p, api := c.startListening("server "+id, id, []string{"server"}, "POWNY_WORKER_ID="+id)
	c.mu.Lock()
	if c.api == nil {
		c.api = api
	}
	c.mu.Unlock()
	return p, api
}

// TickRuns are the invocations a schedule started, by tick.
type TickRuns struct {
	// Ticks are the ticks fired, in order, each once.
	Ticks []time.Time
	// Runs says how many invocations each tick has.
	Runs map[time.Time]int
	// States counts the invocations by state.
	States map[string]int
}

// ScheduledTicks reads the invocations of function that its schedule
// started (input.tick) from powny_invocations.
func ScheduledTicks(ctx context.Context, db *pgxpool.Pool, function string) (TickRuns, error) {
	rows, err := db.Query(ctx, `
		SELECT (input->>'tick')::timestamptz, state FROM powny_invocations
		WHERE function = $1 AND trigger = 'schedule' ORDER BY 1`, function)
	if err != nil {
		return TickRuns{}, fmt.Errorf("scheduled runs of %s: %w", function, err)
	}
	type run struct {
		Tick  time.Time
		State string
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[run])
	if err != nil {
		return TickRuns{}, fmt.Errorf("scheduled runs of %s: %w", function, err)
	}
	tr := TickRuns{Runs: map[time.Time]int{}, States: map[string]int{}}
	for _, r := range runs {
		tick := r.Tick.UTC()
		if tr.Runs[tick] == 0 {
			tr.Ticks = append(tr.Ticks, tick)
		}
		tr.Runs[tick]++
		tr.States[r.State]++
	}
	return tr, nil
}

// Duplicates lists the ticks run more than once.
func (tr TickRuns) Duplicates() []string {
	var out []string
	for _, tick := range tr.Ticks {
		if n := tr.Runs[tick]; n > 1 {
			out = append(out, fmt.Sprintf("%s ran %d times", tick.Format(time.RFC3339), n))
		}
	}
	return out
}

// Gaps lists where two ticks in a row are further apart than every: the
// ticks missing between them.
func (tr TickRuns) Gaps(every time.Duration) []string {
	var out []string
	for i := 1; i < len(tr.Ticks); i++ {
		if d := tr.Ticks[i].Sub(tr.Ticks[i-1]); d > every {
			out = append(out, fmt.Sprintf("%s to %s (%s)",
				tr.Ticks[i-1].Format(time.RFC3339), tr.Ticks[i].Format(time.RFC3339), d))
		}
	}
	return out
}

// String summarizes the runs for failure messages.
func (tr TickRuns) String() string {
	if len(tr.Ticks) == 0 {
		return "no tick fired"
	}
	var dups, gaps string
	if d := tr.Duplicates(); len(d) > 0 {
		dups = "; duplicates: " + strings.Join(d, ", ")
	}
	if g := tr.Gaps(time.Second); len(g) > 0 {
		gaps = "; gaps: " + strings.Join(g, ", ")
	}
	return fmt.Sprintf("%d ticks from %s to %s, states %v%s%s", len(tr.Ticks),
		tr.Ticks[0].Format(time.RFC3339), tr.Ticks[len(tr.Ticks)-1].Format(time.RFC3339), tr.States, dups, gaps)
}
