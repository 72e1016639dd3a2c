package coord_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/powny/powny/platform/coord"
)

// A process registers as a member of its role, and collectors elect a
// leader. NewLocal serves a single node; NewZooKeeper serves many, with the
// same interface.
func Example() {
	ctx := context.Background()
	var c coord.Coordinator = coord.NewLocal()
	defer func() { _ = c.Close() }()

	host, _ := os.Hostname()
	reg, err := c.Register(ctx, coord.Member{
		ID: "worker-1", Role: "worker", Host: host, PID: os.Getpid(),
		Version: "v0.1.0", StartedAt: time.Now(),
	})
	if err != nil {
		panic(err)
	}
	defer func() { _ = reg.Close() }()
	members, _ := c.Members(ctx, "worker")
	fmt.Println("members:", members[0].ID)

	election := c.Election("collector")
	leadership, err := election.Campaign(ctx, "collector-1")
	if err != nil {
		panic(err)
	}
	leader, _ := election.Leader(ctx)
	fmt.Println("leader:", leader)
	// The leader acts until leadership.Lost() is closed.
	_ = leadership.Resign(ctx)
	_, err = election.Leader(ctx)
	fmt.Println(err)
	// Output:
	// members: worker-1
	// leader: collector-1
	// coord: no leader
}
