package match_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/powny/powny/platform/match"
)

// benchSetup returns 10,000 functions' filters and 1,000 events, of which
// each matches about 1% of the functions. Functions filter on one of 100
// services, a status list and a host glob (a quarter of them have a second
// filter on a service, a regex and a comparison); 1% of them have no exact
// field.
func benchSetup(b *testing.B) (*match.Index[int], *bruteForce, []map[string]any) {
	b.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	const functions, services = 10_000, 100
	x := match.NewIndex[int]()
	brute := &bruteForce{filters: map[int][]*match.Filter{}}
	for id := range functions {
		var filters []map[string]any
		if id%100 == 99 {
			// No exact field: a glob and a comparison.
			filters = append(filters, map[string]any{"host": fmt.Sprintf("db-%d*", r.IntN(10)), "cpu": ">= 90"})
		} else {
			filters = append(filters, map[string]any{
				"service": fmt.Sprint("svc-", r.IntN(services)),
				"status":  []any{"CRIT", "WARN"},
				"host":    []string{"db-*", "*", "*-?*", "web-*"}[r.IntN(4)],
			})
			if r.IntN(4) == 0 {
				filters = append(filters, map[string]any{
					"service":     fmt.Sprint("svc-", r.IntN(services)),
					"labels.team": "re:^(db|web)$",
					"cpu":         "> 50",
				})
			}
		}
		fs := must(b, filters...)
		x.Add(id, fs)
		brute.add(id, fs)
	}
	events := make([]map[string]any, 1000)
	for i := range events {
		events[i] = map[string]any{
			"service": fmt.Sprint("svc-", r.IntN(services)),
			"status":  []string{"CRIT", "WARN", "CRIT", "WARN", "OK"}[r.IntN(5)],
			"host":    fmt.Sprintf("%s-%d", []string{"db", "web"}[r.IntN(2)], r.IntN(100)),
			"cpu":     float64(r.IntN(100)),
			"labels":  map[string]any{"team": []string{"db", "web", "ops"}[r.IntN(3)], "env": "prod"},
			"tags":    []any{"a", "b", "c"},
			"message": "disk /var is 95% full",
			"at":      "2025-01-02T03:04:05Z",
		}
	}
	return x, brute, events
}

// BenchmarkIndexMatch matches one event per op against 10,000 functions.
func BenchmarkIndexMatch(b *testing.B) {
	x, _, events := benchSetup(b)
	matches := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		matches += len(x.Match(events[i%len(events)]))
	}
	b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
}

// BenchmarkBruteForceMatch evaluates every filter of the same functions, for
// contrast.
func BenchmarkBruteForceMatch(b *testing.B) {
	_, brute, events := benchSetup(b)
	matches := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		matches += len(brute.match(events[i%len(events)]))
	}
	b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
}

// BenchmarkKeys computes the keys of one event, as the store does.
func BenchmarkKeys(b *testing.B) {
	_, _, events := benchSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		match.Keys(events[i%len(events)])
	}
}
