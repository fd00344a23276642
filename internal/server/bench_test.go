package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkIntake measures signed deliveries accepted and persisted per
// second on SQLite, and the time to answer, with handlers doing nothing.
//
//	go test -run '^$' -bench Intake -benchtime 100000x ./internal/server/
func BenchmarkIntake(b *testing.B) {
	cfg := testConfig(b, map[string]string{"HOIST_LOG_LEVEL": "error"})
	srv := startServer(b, cfg, serverOptionsNone())
	body := []byte(`{"ref":"refs/heads/dev","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","repository":{"full_name":"o/r","name":"r","owner":{"login":"o"}},"installation":{"id":1},"sender":{"login":"octocat"},"commits":[]}`)
	sig := sign(testSecret, body)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// Concurrent senders; GitHub delivers in parallel, a handful at a time.
	workers := 8
	if n, err := strconv.Atoi(os.Getenv("HOIST_BENCH_CONCURRENCY")); err == nil && n > 0 {
		workers = n
	}
	lat := make([]time.Duration, b.N)
	next := make(chan int, 1024)
	var wg sync.WaitGroup
	var failed sync.Once
	rssStart := rssBytes()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/github/hook", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", b.N, i))
				req.Header.Set("X-Hub-Signature-256", sig)
				t0 := time.Now()
				res, err := client.Do(req)
				lat[i] = time.Since(t0)
				if err != nil || res.StatusCode != http.StatusAccepted {
					failed.Do(func() { b.Errorf("delivery %d: %v %v", i, err, res) })
				}
				if res != nil {
					res.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[min(b.N-1, b.N*99/100)].Microseconds())/1000, "p99_ms")
	if rssStart > 0 {
		b.ReportMetric(float64(rssBytes()-rssStart)/(1<<20), "rss_growth_MB")
	}
}

// rssBytes reads the resident set size of this process (Linux).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
