package zkpg

import (
	"testing"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) {
	// The processes the test starts are this binary, re-executed as powny.
	crashtest.RunMainIfChild()
	testcontainers.Main(m)
}
