package main

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// BenchmarkIntake measures signed deliveries accepted and persisted per
// second on SQLite, and the time to answer, with handlers doing nothing.
// It runs the same measurement as the command:
//
//	HOIST_BENCH_CONCURRENCY=8 go test -run '^$' -bench Intake -benchtime 10000x ./bench/intake/
func BenchmarkIntake(b *testing.B) {
	// Concurrent senders; GitHub delivers in parallel, a handful at a time.
	senders := 8
	if n, err := strconv.Atoi(os.Getenv("HOIST_BENCH_CONCURRENCY")); err == nil && n > 0 {
		senders = n
	}
	res, err := BenchIntake(context.Background(), IntakeBench{
		Deliveries: b.N, Concurrency: senders, DataDir: b.TempDir(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(res.Elapsed.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(res.PerSecond, "deliveries/s")
	b.ReportMetric(float64(res.P50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99_ms")
	if res.RSSStart > 0 {
		b.ReportMetric(float64(res.RSSEnd-res.RSSStart)/(1<<20), "rss_growth_MB")
	}
}
