package match_test

import (
	"encoding/json"
	"fmt"

	"github.com/powny/powny/platform/match"
)

// A config's "on" list, compiled and matched against an event.
func Example() {
	filters, err := match.CompileAll([]map[string]any{
		{"service": "disk", "status": []any{"CRIT", "WARN"}, "host": "db-*"},
		{"cpu": ">= 90", "labels": map[string]any{"team": "re:^(db|web)$"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var event map[string]any
	_ = json.Unmarshal([]byte(`{"service": "disk", "status": "CRIT", "host": "db-1", "cpu": 95}`), &event)
	for i, f := range filters {
		fmt.Printf("on[%d]: match %v, anchors %q\n", i, f.Match(event), f.Anchors())
	}
	fmt.Printf("keys %q\n", match.Keys(event))

	_, err = match.CompileAll([]map[string]any{{"service": "disk"}, {"host": "re:("}})
	fmt.Println(err)
	// Output:
	// on[0]: match true, anchors ["service=\"disk\""]
	// on[1]: match false, anchors []
	// keys ["cpu=95" "host=\"db-1\"" "service=\"disk\"" "status=\"CRIT\""]
	// on[1].host: invalid regex "re:(": error parsing regexp: missing closing ): `(`
}

// An Index finds the functions whose filters an event matches.
func ExampleIndex() {
	compile := func(filters ...map[string]any) []*match.Filter {
		fs, err := match.CompileAll(filters)
		if err != nil {
			panic(err)
		}
		return fs
	}
	x := match.NewIndex[string]()
	x.Add("disk-alert", compile(map[string]any{"service": "disk", "status": []any{"CRIT", "WARN"}}))
	x.Add("db-team", compile(map[string]any{"labels.team": "db"}, map[string]any{"host": "db-*"}))
	x.Add("hot", compile(map[string]any{"cpu": "> 90"}))

	fmt.Println(x.Match(map[string]any{"service": "disk", "status": "WARN", "host": "db-2", "cpu": 99.5}))
	fmt.Println(x.Match(map[string]any{"labels": map[string]any{"team": "db"}}))
	fmt.Println(x.Match(map[string]any{"service": "cpu"}))
	// Output:
	// [disk-alert db-team hot]
	// [db-team]
	// []
}
