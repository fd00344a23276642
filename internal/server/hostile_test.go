package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// tableCounts counts the rows of every table of a SQLite store.
func tableCounts(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Query(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	must(t, err)
	var names []string
	for rows.Next() {
		var n string
		must(t, rows.Scan(&n))
		names = append(names, n)
	}
	rows.Close()
	if len(names) < 5 {
		t.Fatalf("found only tables %v", names)
	}
	counts := map[string]int{}
	for _, n := range names {
		var c int
		must(t, st.QueryRow(ctx, `SELECT count(*) FROM "`+n+`"`).Scan(&c))
		counts[n] = c
	}
	return counts
}

// dbBytes is the size of the SQLite database with its write-ahead log.
func dbBytes(t *testing.T, dataDir string) int64 {
	t.Helper()
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(filepath.Join(dataDir, "hoist.db"+suffix)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// hostileEvent is an event name an attacker might send: random bytes
// (including invalid UTF-8), sometimes very long, never a control
// character (Go's client refuses those in a header).
func hostileEvent(r *rand.Rand) string {
	n := 1 + r.IntN(40)
	if r.IntN(10) == 0 {
		n = 1000 + r.IntN(3000)
	}
	b := make([]byte, n)
	for i := range b {
		c := byte(0x21 + r.IntN(0xff-0x21))
		if c == 0x7f {
			c = 0xff
		}
		b[i] = c
	}
	return string(b)
}

// The attack of issue 12: unsigned webhooks with made-up event names grew
// /metrics and the database without bound, and invalid UTF-8 panicked the
// handler. 2,000 of them must leave no row, no label and no panic.
func TestUnsignedFloodLeavesNoTrace(t *testing.T) {
	cfg := testConfig(t, nil)
	srv := startServer(t, cfg, serverOptionsNone())
	waitFirstPrune(t, srv.Store())
	before, size := tableCounts(t, srv.Store()), dbBytes(t, cfg.DataDir)

	r := rand.New(rand.NewPCG(12, 4))
	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"victim/site"},"installation":{"id":1}}`)
	type req struct {
		headers map[string]string
		body    []byte
	}
	reqs := make(chan req)
	var refused, other atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range reqs {
				code, _ := post(t, srv.URL, q.headers, q.body)
				if code == http.StatusUnauthorized || code == http.StatusRequestEntityTooLarge {
					refused.Add(1)
				} else {
					other.Add(1)
				}
			}
		}()
	}
	for i := range 2000 {
		h := map[string]string{"X-GitHub-Event": hostileEvent(r), "X-GitHub-Delivery": hostileEvent(r)}
		switch i % 4 {
		case 1: // a signature with the wrong key
			h["X-Hub-Signature-256"] = emulator.Sign("not the secret at all", body)
		case 2: // a malformed one
			h["X-Hub-Signature-256"] = "sha256=" + hostileEvent(r)
		case 3: // a SHA-1 one
			h["X-Hub-Signature"] = "sha1=0123456789abcdef0123456789abcdef01234567"
		}
		reqs <- req{h, body}
	}
	close(reqs)
	wg.Wait()
	if refused.Load() != 2000 {
		t.Fatalf("%d of 2000 refused with 401/413, %d otherwise", refused.Load(), other.Load())
	}

	res, err := http.Get(srv.URL + "/metrics")
	must(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(metrics) > 20<<10 {
		t.Errorf("/metrics is %d bytes after the flood, want under 20 KB", len(metrics))
	}
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "hoist_deliveries_total{") && !strings.Contains(line, `event="unverified"`) {
			t.Errorf("an unverified request was labelled by its event: %s", line)
		}
	}
	if !strings.Contains(string(metrics), `hoist_deliveries_total{event="unverified",outcome="rejected",reason="bad_signature"} 1000`) {
		t.Errorf("bad signatures not counted as unverified:\n%s", grepLines(string(metrics), "hoist_deliveries_total"))
	}
	after := tableCounts(t, srv.Store())
	for name, n := range after {
		if before[name] != n {
			t.Errorf("table %s: %d rows before the flood, %d after", name, before[name], n)
		}
	}
	// The job engine's leader keeps renewing its lease, so allow a few
	// pages; the attack grew the file by 228 MB.
	if grew := dbBytes(t, cfg.DataDir) - size; grew > 256<<10 {
		t.Errorf("database grew by %d bytes during the flood", grew)
	}
}

// Signed deliveries are believed, but their event names still map onto a
// fixed set of labels.
func TestSignedEventLabelsAreBounded(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	for i := range 50 {
		if code := deliver(t, srv.URL, fmt.Sprintf("made_up_event_%c%c", 'a'+i%26, 'a'+i/26), fmt.Sprintf("made-up-%d", i), []byte(`{}`)); code != http.StatusAccepted {
			t.Fatalf("signed delivery %d: %d", i, code)
		}
	}
	if code := deliver(t, srv.URL, "push", "a-push", []byte(`{"ref":"refs/heads/x"}`)); code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	res, err := http.Get(srv.URL + "/metrics")
	must(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(metrics), "made_up_event") {
		t.Errorf("an unknown event became a label:\n%s", grepLines(string(metrics), "made_up_event"))
	}
	for _, want := range []string{
		`hoist_deliveries_total{event="other",outcome="ignored",reason=""} 50`,
		`hoist_deliveries_total{event="push",outcome="accepted",reason=""} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(string(metrics), "hoist_deliveries_total"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// countingReader is a body that counts what was read from it.
type countingReader struct {
	left int64
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.left {
		n = c.left
	}
	for i := range p[:n] {
		p[i] = 'x'
	}
	c.left -= n
	c.read.Add(n)
	return int(n), nil
}

func webhookRequest(body io.Reader, length int64) *http.Request {
	req := httptest.NewRequest(http.MethodPost, server.WebhookPath, body)
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "big")
	req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	return req
}

// A 26 MB body is refused on its Content-Length without a byte read, and a
// chunked one (no length) is cut off at the 25 MB cap, not read whole.
func TestOversizeBodyIsNotReadWhole(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	const size = 26 << 20

	body := &countingReader{left: size}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, webhookRequest(body, size))
	if rec.Code != http.StatusRequestEntityTooLarge || body.read.Load() != 0 {
		t.Errorf("declared 26 MB: status %d after reading %d bytes, want 413 after none", rec.Code, body.read.Load())
	}

	body = &countingReader{left: size}
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, webhookRequest(body, -1))
	if rec.Code != http.StatusRequestEntityTooLarge || body.read.Load() > server.MaxWebhookBody+64<<10 {
		t.Errorf("chunked 26 MB: status %d after reading %d bytes, want 413 after at most 25 MB", rec.Code, body.read.Load())
	}

	// Without a well-formed signature not even a small body is read.
	body = &countingReader{left: 1000}
	req := webhookRequest(body, 1000)
	req.Header.Set("X-Hub-Signature-256", "sha256=nothex")
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || body.read.Load() != 0 {
		t.Errorf("malformed signature: status %d after reading %d bytes, want 401 after none", rec.Code, body.read.Load())
	}
}

// When every body-read slot is taken, the next request is answered 503
// with Retry-After at once, not queued.
func TestWebhookReadsAreCapped(t *testing.T) {
	cfg := testConfig(t, nil)
	cfg.GitHub.WebhookMaxReads = 2
	srv := startServer(t, cfg, serverOptionsNone())

	var slow []*io.PipeWriter
	done := make(chan int, 2)
	for range 2 {
		pr, pw := io.Pipe()
		slow = append(slow, pw)
		go func() {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, webhookRequest(pr, 1000))
			done <- rec.Code
		}()
		_, _ = pw.Write([]byte("{")) // the handler is reading now
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	srv.Handler().ServeHTTP(rec, webhookRequest(bytes.NewReader([]byte("{}")), 2))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("third concurrent read: status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the refused request waited %s", waited)
	}
	for _, pw := range slow {
		pw.Close()
	}
	for range 2 {
		if code := <-done; code != http.StatusUnauthorized {
			t.Errorf("slow request: %d, want 401 (zero signature)", code)
		}
	}
	// The slots are free again.
	body := []byte(`{"ref":"refs/heads/x"}`)
	if code := deliver(t, srv.URL, "push", "after-cap", body); code != http.StatusAccepted {
		t.Errorf("delivery after the slow ones: %d", code)
	}
}

// waitFirstPrune waits for the retention job the leader runs at start, so
// that it does not change the job table under a test.
func waitFirstPrune(t *testing.T, st *store.Store) {
	t.Helper()
	hoisttest.WaitFor(t, 30*time.Second, "the first retention job", func() bool {
		var n int
		err := st.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'retention_prune' AND state = 'completed'`).Scan(&n)
		return err == nil && n > 0
	})
}

// The periodic retention job deletes what is past the retention, through
// River, and keeps the rest.
func TestRetentionJobPrunesOldRows(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	st := srv.Store()
	waitFirstPrune(t, st)
	ctx := context.Background()
	old, recent := time.Now().UTC().Add(-400*24*time.Hour), time.Now().UTC().Add(-time.Hour)
	must(t, st.InTx(ctx, func(tx store.Tx) error {
		for i := range 3000 {
			at := old
			if i%100 == 0 {
				at = recent
			}
			if _, err := tx.Exec(ctx, `INSERT INTO audit_log (at, repo, action) VALUES (?, 'o/r', 'generate')`, at); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO deliveries (delivery_id, event, payload, status, received_at, updated_at) VALUES (?, 'push', '{}', 'handled', ?, ?)`,
				fmt.Sprintf("old-%d", i), at, at); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, srv.Engine().PruneNow(ctx))
	count := func(table string) int {
		var n int
		must(t, st.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		return n
	}
	hoisttest.WaitFor(t, 30*time.Second, "old rows pruned", func() bool { return count("audit_log") == 30 && count("deliveries") == 30 })
}

// Two replicas on one PostgreSQL database: the retention job runs once per
// period, not once per replica.
func TestRetentionRunsOnceAcrossReplicas(t *testing.T) {
	dsn := testenv.Postgres(t)
	a := startServer(t, testConfig(t, map[string]string{"HOIST_DATABASE_URL": dsn}), server.Options{JobsClientID: "replica-a"})
	startServer(t, testConfig(t, map[string]string{"HOIST_DATABASE_URL": dsn}), server.Options{JobsClientID: "replica-b"})
	waitFirstPrune(t, a.Store())
	time.Sleep(2 * time.Second) // time for a wrongly scheduled second run
	var n int
	must(t, a.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'retention_prune'`).Scan(&n))
	if n != 1 {
		t.Errorf("%d retention jobs after two replicas started, want 1", n)
	}
}

// Signed deliveries (a leaked secret, or a replayed body with new headers:
// the headers are not signed) with hostile event names are refused without
// a panic and counted under "other".
func TestSignedHostileEventNames(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	body := []byte(`{"ref":"refs/heads/x"}`)
	for i, event := range []string{"\xff\xfe", "push\xc3", strings.Repeat("a", 5000), "PUSH", "push;drop", "pi ng", "é"} {
		code, _ := post(t, srv.URL, map[string]string{
			"X-GitHub-Event": event, "X-GitHub-Delivery": fmt.Sprintf("hostile-%d", i), "X-Hub-Signature-256": emulator.Sign(testSecret, body),
		}, body)
		if code != http.StatusBadRequest {
			t.Errorf("event %q: status %d, want 400", event, code)
		}
	}
	res, err := http.Get(srv.URL + "/metrics")
	must(t, err)
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(metrics), `hoist_deliveries_total{event="other",outcome="rejected",reason="missing_header"} 7`) {
		t.Errorf("hostile event names not counted as other:\n%s", grepLines(string(metrics), "hoist_deliveries_total"))
	}
	counts, err := srv.Store().DeliveryCounts(context.Background())
	must(t, err)
	if len(counts) != 0 {
		t.Errorf("stored %v", counts)
	}
}
