package store_test

import (
	"testing"

	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }
