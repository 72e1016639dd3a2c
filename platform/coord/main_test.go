package coord

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }

// testLogger logs to the test's output (shown on failure or with -v), and
// drops what comes after the test (the zk client's goroutines may log while
// they wind down).
func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	w := &testWriter{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// waitTimeout bounds every wait for something that must happen.
const waitTimeout = 15 * time.Second

// requireClosed waits for ch to be closed.
func requireClosed(tb testing.TB, ch <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		tb.Fatalf("%s: not after %s", what, waitTimeout)
	}
}

// requireOpen checks that ch is not closed now.
func requireOpen(tb testing.TB, ch <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
		tb.Fatalf("%s: it happened", what)
	default:
	}
}

// requireStaysOpen checks that ch stays open for d.
func requireStaysOpen(tb testing.TB, ch <-chan struct{}, d time.Duration, what string) {
	tb.Helper()
	select {
	case <-ch:
		tb.Fatalf("%s: it happened", what)
	case <-time.After(d):
	}
}

// waitMembers reads lists from ch until one has exactly the ids want.
func waitMembers(tb testing.TB, ch <-chan []Member, want ...string) []Member {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	timeout := time.After(waitTimeout)
	var last []string
	for {
		select {
		case list, ok := <-ch:
			require.True(tb, ok, "the watch ended; last list %v, want %v", last, want)
			last = ids(list)
			if strings.Join(last, ",") == strings.Join(want, ",") {
				return list
			}
		case <-timeout:
			tb.Fatalf("members %v, want %v (after %s)", last, want, waitTimeout)
		}
	}
}

// waitLeader reads values from ch until want.
func waitLeader(tb testing.TB, ch <-chan string, want string) {
	tb.Helper()
	timeout := time.After(waitTimeout)
	var seen []string
	for {
		select {
		case v, ok := <-ch:
			require.True(tb, ok, "the observation ended; seen %q, want %q", seen, want)
			seen = append(seen, v)
			if v == want {
				return
			}
		case <-timeout:
			tb.Fatalf("leader: seen %q, want %q (after %s)", seen, want, waitTimeout)
		}
	}
}

func ids(list []Member) []string {
	out := make([]string, len(list))
	for i, m := range list {
		out[i] = m.ID
	}
	return out
}
