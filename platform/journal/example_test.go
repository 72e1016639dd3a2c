package journal_test

import (
	"context"
	"fmt"
	"time"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/journal"
)

// A run records its calls and checkpoints them; the resumed run replays them
// without performing anything, then goes live again.
func Example() {
	ctx := context.Background()
	var rows [][]byte
	commit := func(_ context.Context, entries []journal.Entry, _ int) error {
		row, err := journal.Encode(entries)
		rows = append(rows, row)
		return err
	}
	clock := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }

	first := journal.New(journal.Config{Commit: commit, Now: clock})
	id, _ := first.Do(ctx, fnrun.Call{Name: "uuid", Line: 2}, func(context.Context) (any, error) {
		return "9d2c…", nil
	})
	_ = first.Checkpoint(ctx, 3)
	fmt.Println("first run:", id, string(rows[0]))

	stored, _ := journal.DecodeAll(rows)
	resumed := journal.New(journal.Config{
		Replay:   stored,
		OnReplay: func(e journal.Entry) { fmt.Printf("replayed #%d %s (line %d)\n", e.Seq, e.Name, e.Line) },
	})
	id, _ = resumed.Do(ctx, fnrun.Call{Name: "uuid", Line: 2}, func(context.Context) (any, error) {
		panic("not performed again")
	})
	fmt.Println("resumed run:", id, "replaying:", resumed.Replaying())
	n, _ := resumed.Do(ctx, fnrun.Call{Name: "random", Args: []any{int64(10)}, Line: 4}, func(context.Context) (any, error) {
		return int64(7), nil
	})
	fmt.Println("live again:", n, "pending:", len(resumed.Pending()))
	// Output:
	// first run: 9d2c… [{"seq":0,"name":"uuid","digest":"74234e98afe7498fb5daf1f36ac2d78a","line":2,"result":"9d2c…","at":"2025-01-02T03:04:05Z"}]
	// replayed #0 uuid (line 2)
	// resumed run: 9d2c… replaying: false
	// live again: 7 pending: 1
}
