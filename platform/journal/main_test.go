package journal

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails if a test leaves goroutines behind, such as an http
// connection of a replay test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
