package server_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
)

// Every label of /metrics comes from a fixed set, whatever strangers or
// even GitHub send: two rounds of signed deliveries with made-up event
// names, repositories, installations and delivery ids, and of forged
// ones, leave none of those values in /metrics, and the second round,
// with all-new values, adds no series.
func TestSeriesStayBoundedUnderHostileInput(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	// The retention job the leader runs at start adds its own series;
	// it must not be mistaken for growth.
	waitFirstPrune(t, srv.Store())
	r := rand.New(rand.NewPCG(15, 5))
	var sent []string
	word := func() string {
		b := make([]byte, 12)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		w := "zz" + string(b)
		sent = append(sent, w)
		return w
	}
	round := func() {
		for i := range 100 {
			repo := fmt.Sprintf(`{"ref":"refs/heads/%s","repository":{"full_name":"%s/%s"},"installation":{"id":%d}}`,
				word(), word(), word(), 1_000_000+r.IntN(1_000_000))
			deliver(t, srv.URL, word(), word(), []byte(repo))
			if i%10 == 0 {
				deliver(t, srv.URL, "push", word(), []byte(repo))
			}
			body := []byte(`{"zen":"` + word() + `"}`)
			post(t, srv.URL, map[string]string{"X-GitHub-Event": word(), "X-GitHub-Delivery": word(),
				"X-Hub-Signature-256": emulator.Sign("not the secret", body)}, body)
			post(t, srv.URL, map[string]string{"X-GitHub-Event": word(), "X-GitHub-Delivery": word(),
				"X-Hub-Signature-256": "sha256=" + word()}, body)
		}
	}
	scrape := func() map[string]bool {
		// Jobs of the round finish (or fail) first, so that their
		// outcomes are in.
		time.Sleep(2 * time.Second)
		res, err := http.Get(srv.URL + "/metrics")
		must(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		series := map[string]bool{}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(line, "hoist_") {
				continue
			}
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				series[line[:i]] = true
			}
		}
		return series
	}
	round()
	first := scrape()
	round()
	second := scrape()
	var added []string
	for s := range second {
		if !first[s] {
			added = append(added, s)
		}
		for _, w := range sent {
			if strings.Contains(s, w) {
				t.Errorf("a value sent by a client became a label: %s", s)
				break
			}
		}
	}
	sort.Strings(added)
	t.Logf("%d hoist series after 600 hostile or made-up deliveries, %d after 1,200", len(first), len(second))
	if len(added) > 0 {
		t.Errorf("the second round added %d series:\n%s", len(added), strings.Join(added, "\n"))
	}
}
