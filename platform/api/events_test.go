package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// diskSource is the function of the events issue, without the pager.
const diskSource = `config := {"on": [{"service": "disk", "status": ["CRIT", "WARN"], "host": "db-*"}]}
func main(event) {
  log.info("disk trouble on", event.host)
  ok := wait_event({"host": event.host, "service": "disk", "status": "OK"}, "%s")
  return {"resolved": ok != nil, "ok": ok}
}
`

func (b *testBundle) sendEvent(body string, headers ...string) answer {
	b.t.Helper()
	return b.do(http.MethodPost, "/v1/events", []byte(body), headers...)
}

// started returns the invocation ids an event answer names under key
// ("started" or "woke"), by function.
func started(t *testing.T, a answer, key string) map[string]int64 {
	t.Helper()
	list, ok := a.body[key].([]any)
	require.True(t, ok, "answer has no %s list: %s", key, a.raw)
	out := map[string]int64{}
	for _, x := range list {
		m := x.(map[string]any)
		out[m["function"].(string)] = int64(m["invocation"].(float64))
	}
	return out
}

func TestEventsStartMatchingFunctions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("disk", fmt.Sprintf(diskSource, "10m"))
	b.mustDeploy("cpu", `config := {"on": [{"metrics.cpu": ">= 90"}, {"labels": {"team": "re:^(db|storage)$"}}]}
func main(event) { return event.host }
`)
	b.mustDeploy("present", `config := {"on": [{"ticket": {"exists": true}, "service": "disk"}]}
func main(event) { return event.ticket }
`)
	b.mustDeploy("plain", "func main() { return 1 }\n")

	a := b.sendEvent(`{"host": "db-3", "service": "disk", "status": "CRIT"}`)
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	require.Equal(t, map[string]int64{"disk": started(t, a, "started")["disk"]}, started(t, a, "started"))
	require.Empty(t, started(t, a, "woke"))
	require.Equal(t, false, a.body["duplicate"])
	inv := b.waitState(started(t, a, "started")["disk"], "waiting")
	require.Equal(t, "event", inv.body["trigger"])
	require.Equal(t, "db-3", inv.body["input"].(map[string]any)["host"], "the event is the input")

	for _, c := range []struct {
		event string
		want  []string
	}{
		{`{"host": "web-1", "service": "disk", "status": "CRIT"}`, nil},   // host glob
		{`{"host": "db-1", "service": "disk", "status": "OK"}`, nil},      // status list
		{`{"host": "a", "metrics": {"cpu": 95.5}}`, []string{"cpu"}},      // nested path, comparison
		{`{"host": "a", "metrics": {"cpu": 89}}`, nil},                    //
		{`{"host": "a", "labels": {"team": "storage"}}`, []string{"cpu"}}, // second filter, regex
		{`{"host": "a", "labels": {"team": "storage-x"}}`, nil},           // anchored regex
		{`{"service": "disk", "ticket": null}`, []string{"present"}},      // existence
		{`{"service": "disk", "ticket": 5, "host": "db-x", "status": "WARN"}`, []string{"disk", "present"}},
	} {
		a := b.sendEvent(c.event)
		require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
		var got []string
		for fn := range started(t, a, "started") {
			got = append(got, fn)
		}
		require.ElementsMatch(t, c.want, got, c.event)
	}

	var events, fromEvents int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM powny_events), (SELECT count(*) FROM powny_invocations WHERE event_id IS NOT NULL)`).
		Scan(&events, &fromEvents))
	require.Equal(t, 9, events, "every event is stored for audit, matched or not")
	require.Equal(t, 6, fromEvents)
}

func TestEventsDeployRejectsBadFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct{ source, detail string }{
		{`config := {"on": [{"status": []}]}` + "\nfunc main() {}\n", "config.on[0].status"},
		{`config := {"on": [{"host": "db"}, {"host": "re:("}]}` + "\nfunc main() {}\n", "config.on[1].host"},
		{`config := {"on": [{"cpu": ">= x"}]}` + "\nfunc main() {}\n", "config.on[0].cpu"},
		{`config := {"on": [{}]}` + "\nfunc main() {}\n", "config.on[0]"},
	} {
		a := b.deploy("bad", c.source)
		p := requireProblem(t, a, http.StatusBadRequest, "invalid-source", c.detail)
		require.EqualValues(t, 1, p["line"], string(a.raw))
		require.NotZero(t, p["column"], string(a.raw))
	}
}

func TestEventsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("all", `config := {"on": [{"kind": "x"}]}`+"\nfunc main(e) { return e }\n")

	a := b.sendEvent(`[{"kind": "x"}, "not an event", {"kind": "x"}]`)
	p := requireProblem(t, a, http.StatusBadRequest, "invalid-event", "events[1]", "must be a JSON object, not a string")
	require.Equal(t, "[1]", p["field"])
	a = b.sendEvent(`[{"kind": "x"}, {"kind": "x", "dedup_key": 7}]`)
	p = requireProblem(t, a, http.StatusBadRequest, "invalid-event", "events[1]", "dedup_key must be a non-empty string, not a number")
	require.Equal(t, "[1]", p["field"])
	requireProblem(t, b.sendEvent(`[]`), http.StatusBadRequest, "bad-request", "no events")
	requireProblem(t, b.sendEvent(`42`), http.StatusBadRequest, "invalid-event", "must be a JSON object, not a number")
	requireProblem(t, b.sendEvent(``), http.StatusBadRequest, "invalid-event", "not null")
	p = requireProblem(t, b.sendEvent("{\"kind\":\n \"x\",}"), http.StatusBadRequest, "invalid-json", "line 2")
	require.EqualValues(t, 2, p["line"])
	requireProblem(t, b.sendEvent(`[{"kind": "x"}]`, "Idempotency-Key", "k"), http.StatusBadRequest, "bad-request", "single event")
	requireProblem(t, b.sendEvent(`{"kind": "x", "dedup_key": "a"}`, "Idempotency-Key", "b"), http.StatusBadRequest, "invalid-event", "differs")

	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM powny.events) + (SELECT count(*) FROM powny.invocations)`).Scan(&n))
	require.Zero(t, n, "a rejected batch stores nothing, not even its good events")

	many := "[" + strings.Repeat(`{"kind": "y"},`, 1000) + `{"kind": "y"}]`
	requireProblem(t, b.sendEvent(many), http.StatusRequestEntityTooLarge, "too-large", "1001 events (limit 1000)")
}

func TestEventsDedup(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("all", `config := {"on": [{"kind": "x"}]}`+"\nfunc main(e) { return e }\n")

	first := b.sendEvent(`{"kind": "x", "dedup_key": "alert-1"}`)
	require.Equal(t, http.StatusAccepted, first.status, string(first.raw))
	require.Len(t, started(t, first, "started"), 1)
	again := b.sendEvent(`{"kind": "x", "dedup_key": "alert-1", "note": "resent"}`)
	require.Equal(t, http.StatusOK, again.status, string(again.raw))
	require.Equal(t, true, again.body["duplicate"])
	require.Equal(t, first.body["id"], again.body["id"], "a duplicate names the first event")
	require.Empty(t, started(t, again, "started"))

	// The Idempotency-Key header is the dedup key of a single event.
	h1 := b.sendEvent(`{"kind": "x"}`, "Idempotency-Key", "h-1")
	h2 := b.sendEvent(`{"kind": "x"}`, "Idempotency-Key", "h-1")
	require.Equal(t, false, h1.body["duplicate"])
	require.Equal(t, true, h2.body["duplicate"])

	// Within a batch, and against the past.
	a := b.sendEvent(`[{"kind": "x", "dedup_key": "b-1"}, {"kind": "x", "dedup_key": "b-1"}, {"kind": "x", "dedup_key": "alert-1"}, {"kind": "x"}]`)
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	list := a.body["events"].([]any)
	require.Len(t, list, 4)
	dup := func(i int) bool { return list[i].(map[string]any)["duplicate"].(bool) }
	require.Equal(t, []bool{false, true, true, false}, []bool{dup(0), dup(1), dup(2), dup(3)})
	require.Equal(t, list[0].(map[string]any)["id"], list[1].(map[string]any)["id"])
	require.Equal(t, first.body["id"], list[2].(map[string]any)["id"])

	var events, invocations int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM powny.events), (SELECT count(*) FROM powny.invocations)`).Scan(&events, &invocations))
	require.Equal(t, 4, events)
	require.Equal(t, 4, invocations, "duplicates start nothing")
}

func TestWaitEventIsWokenByAnEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("disk", fmt.Sprintf(diskSource, "10m"))

	crit := b.sendEvent(`{"host": "db-3", "service": "disk", "status": "CRIT"}`)
	id := started(t, crit, "started")["disk"]
	waiting := b.waitState(id, "waiting")
	require.NotEmpty(t, waiting.body["wake_at"])

	// Another host's OK wakes nothing; this host's OK wakes it, and the
	// answer says so. The OK event also starts nothing (status OK).
	other := b.sendEvent(`{"host": "db-4", "service": "disk", "status": "OK"}`)
	require.Empty(t, started(t, other, "woke"))
	sent := time.Now()
	ok := b.sendEvent(`{"host": "db-3", "service": "disk", "status": "OK", "n": 1}`)
	require.Equal(t, map[string]int64{"disk": id}, started(t, ok, "woke"), string(ok.raw))
	require.Empty(t, started(t, ok, "started"))

	done := b.waitState(id, "succeeded")
	require.Less(t, time.Since(sent), 3*time.Second)
	result := done.body["result"].(map[string]any)
	require.Equal(t, true, result["resolved"])
	require.EqualValues(t, 1, result["ok"].(map[string]any)["n"], "wait_event returns the event")

	// A second OK finds no waiter.
	again := b.sendEvent(`{"host": "db-3", "service": "disk", "status": "OK"}`)
	require.Empty(t, started(t, again, "woke"))

	var state string
	var eventID int64
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT state, event_id FROM powny_waits WHERE invocation_id = $1`, id).Scan(&state, &eventID))
	require.Equal(t, "delivered", state)
	require.EqualValues(t, ok.body["id"], eventID)
	// The events keep what they did.
	e := b.do(http.MethodGet, fmt.Sprintf("/v1/events/%v", crit.body["id"]), nil)
	require.Equal(t, http.StatusOK, e.status, string(e.raw))
	require.EqualValues(t, 1, e.body["started"])
	require.Equal(t, map[string]int64{"disk": id}, started(t, e, "started_invocations"))
	require.Empty(t, started(t, e, "woke_invocations"))
	e = b.do(http.MethodGet, fmt.Sprintf("/v1/events/%v", ok.body["id"]), nil)
	require.EqualValues(t, 1, e.body["woke"])
	require.Equal(t, map[string]int64{"disk": id}, started(t, e, "woke_invocations"))
	require.Equal(t, "OK", e.body["body"].(map[string]any)["status"])
	list := b.do(http.MethodGet, "/v1/events?limit=2", nil)
	require.Len(t, list.body["events"], 2)
	require.Equal(t, again.body["id"], list.body["events"].([]any)[0].(map[string]any)["id"], "newest first")
	require.Equal(t, ok.body["id"], list.body["next_before"])
	requireProblem(t, b.do(http.MethodGet, "/v1/events/999999", nil), http.StatusNotFound, "not-found", "event 999999")
	requireProblem(t, b.do(http.MethodGet, "/v1/events?limit=5000", nil), http.StatusBadRequest, "bad-request", "exceeds 1000")

	waits := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%d", id), nil).body["waits"].([]any)
	require.Len(t, waits, 1)
	w := waits[0].(map[string]any)
	require.Equal(t, "delivered", w["state"])
	require.Equal(t, ok.body["id"], w["event_id"])
	require.Equal(t, map[string]any{"host": "db-3", "service": "disk", "status": "OK"}, w["filter"])
}

func TestWaitEventTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("disk", fmt.Sprintf(diskSource, "1500ms"))
	crit := b.sendEvent(`{"host": "db-3", "service": "disk", "status": "WARN"}`)
	id := started(t, crit, "started")["disk"]
	done := b.waitState(id, "succeeded")
	require.Equal(t, false, done.body["result"].(map[string]any)["resolved"])
	history := done.body["history"].([]any)
	require.Equal(t, "suspended", history[0].(map[string]any)["outcome"], "no worker slot is held while it waits")

	// Too late: the wait is over.
	late := b.sendEvent(`{"host": "db-3", "service": "disk", "status": "OK"}`)
	require.Empty(t, started(t, late, "woke"))
	var state string
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT state FROM powny_waits WHERE invocation_id = $1`, id).Scan(&state))
	require.Equal(t, "timeout", state)
}

func TestEventBothStartsAndWakes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("waiter", `func main() { return wait_event({"kind": "go"}, "10m").n }`+"\n")
	b.mustDeploy("starter", `config := {"on": [{"kind": "go"}]}`+"\nfunc main(e) { return e.n }\n")
	inv := b.do(http.MethodPost, "/v1/functions/waiter/invoke", nil)
	id := int64(inv.body["id"].(float64))
	b.waitState(id, "waiting")

	a := b.sendEvent(`{"kind": "go", "n": 7}`)
	require.Equal(t, map[string]int64{"waiter": id}, started(t, a, "woke"))
	require.Contains(t, started(t, a, "started"), "starter")
	require.EqualValues(t, 7, b.waitState(id, "succeeded").body["result"])
	require.EqualValues(t, 7, b.waitState(started(t, a, "started")["starter"], "succeeded").body["result"])
}

// TestNoLostWakeUps sends each waiter's event the moment its wait is
// registered, while its worker may still be ending the attempt that
// registered it, and River may not yet have snoozed the job: every event
// must still wake its invocation, long before the 10 minute timeout.
func TestNoLostWakeUps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("waiter", `config := {"on": [{"start": true}]}
func main(e) {
  got := wait_event({"k": e.k}, "10m")
  return got.k
}
`)
	const n = 40
	batch := make([]string, n)
	for i := range n {
		batch[i] = fmt.Sprintf(`{"start": true, "k": %d}`, i)
	}
	a := b.sendEvent("[" + strings.Join(batch, ",") + "]")
	require.Equal(t, http.StatusAccepted, a.status, string(a.raw))
	ids := make([]int64, n)
	for i, e := range a.body["events"].([]any) {
		s := e.(map[string]any)["started"].([]any)
		require.Len(t, s, 1)
		ids[i] = int64(s[0].(map[string]any)["invocation"].(float64))
	}

	var wg sync.WaitGroup
	woke := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			ctx := context.Background()
			// Spin until the wait is registered, then send at once.
			for {
				var registered bool
				err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM powny.waits WHERE invocation_id = $1)`, ids[i]).Scan(&registered)
				if err != nil || registered {
					break
				}
				time.Sleep(time.Millisecond) // polls Postgres: no signal to await
			}
			a := b.sendEvent(fmt.Sprintf(`{"k": %d}`, i))
			woke[i] = started(t, a, "woke")["waiter"] == ids[i]
		})
	}
	wg.Wait()
	for i := range n {
		require.True(t, woke[i], "event %d was delivered", i)
	}
	deadline := time.Now().Add(15 * time.Second)
	for i := range n {
		var result *int
		require.Eventually(t, func() bool {
			var state string
			err := b.pool.QueryRow(context.Background(), `SELECT state, (result)::int FROM powny.invocations WHERE id = $1`, ids[i]).Scan(&state, &result)
			return err == nil && state == "succeeded"
		}, time.Until(deadline), 20*time.Millisecond, "invocation %d (event %d) did not finish: its wake-up was lost", ids[i], i)
		require.Equal(t, i, *result)
	}
}
