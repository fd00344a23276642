package generate_test

import (
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkSignedTrigger measures signed POST triggers accepted per second
// while a window is open (each one verified, looked up, coalesced into the
// waiting job and audited), on SQLite with 8 concurrent senders.
func BenchmarkSignedTrigger(b *testing.B) {
	w := newWorld(b, "1h")
	body := []byte(`{"environment":"staging","reason":"row changed"}`)
	if code, res := w.post("acme/site", secrets["acme/site"], body); code != http.StatusAccepted {
		b.Fatalf("%d %+v", code, res)
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 senders on the 2-core machine
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			code, res := w.post("acme/site", secrets["acme/site"], body)
			d := time.Since(start)
			if code != http.StatusAccepted || res.Status != "coalesced" {
				b.Errorf("%d %+v", code, res)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "triggers/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	if n := w.pendingJobs(); n != 1 {
		b.Fatalf("%d waiting jobs after the burst, want 1", n)
	}
}
