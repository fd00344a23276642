package web_test

import (
	"image/color"
	"io"
	"testing"
	"time"
)

// BenchmarkDashboardView is one page view of the overview once GitHub's
// state is cached (the audit log and holds are read every time): what a
// viewer waits for, over real HTTP.
//
//	go test -run '^$' -bench DashboardView -benchmem ./internal/web/
func BenchmarkDashboardView(b *testing.B) {
	w := newWorld(b, holds)
	_, shots := artifacts(b, testPNG(color.RGBA{1, 2, 3, 255}), testPNG(color.RGBA{4, 5, 6, 255}), testPNG(color.RGBA{7, 8, 9, 255}))
	w.fill(shots)
	_, first := w.get("/")
	calls := w.calls.Load()
	b.ReportMetric(float64(len(first)), "page-bytes")
	b.ResetTimer()
	for b.Loop() {
		res, err := w.client.Get(w.srv.URL + "/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	b.StopTimer()
	if n := w.calls.Load() - calls; n != 0 {
		b.Fatalf("cached views made %d GitHub requests", n)
	}
}

// BenchmarkDashboardFirstView is a view after the cache expired: every
// repository and environment is read again from GitHub (the emulator, in
// process, so this is hoist's own cost plus loopback HTTP).
func BenchmarkDashboardFirstView(b *testing.B) {
	w := newWorld(b, holds)
	_, shots := artifacts(b, testPNG(color.RGBA{1, 2, 3, 255}), testPNG(color.RGBA{4, 5, 6, 255}), testPNG(color.RGBA{7, 8, 9, 255}))
	w.fill(shots)
	w.get("/")
	calls := w.calls.Load()
	b.ResetTimer()
	for b.Loop() {
		w.clock.Add(time.Minute)
		res, err := w.client.Get(w.srv.URL + "/")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	b.StopTimer()
	b.ReportMetric(float64(w.calls.Load()-calls)/float64(b.N), "github-requests/op")
}
