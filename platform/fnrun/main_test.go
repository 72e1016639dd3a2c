package fnrun

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails if a test leaves goroutines behind, such as the VM's
// cancellation watcher of a run whose context was never cancelled.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
