package crashtest

import (
	"testing"

	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) {
	// The processes the tests start are this binary, re-executed as powny.
	RunMainIfChild()
	testcontainers.Main(m)
}
