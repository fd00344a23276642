package emulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/emulator/emulatortest"
)

// benchEnv is an emulator without conformance observers (they would
// dominate the timings), a repository with one commit, and an app that
// records deliveries without sending them.
func benchEnv(b *testing.B) (*emulatortest.Harness, string, *work) {
	gh := emulatortest.Start(b)
	alice := gh.CreateUser("alice")
	app := gh.CreateApp("hoist", "")
	gh.CreateRepo("acme", "site", alice)
	gh.Install(app.ID, "acme/site")
	w := clone(b, gh.GitURL("acme/site", alice))
	w.commit("base", map[string]string{"public/index.html": "x"})
	w.git("push", "-q", "origin", "HEAD:main")
	return gh, alice, w
}

func benchDo(b *testing.B, token, method, url, body string, want int) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
}

func BenchmarkGetRef(b *testing.B) {
	gh, alice, _ := benchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchDo(b, alice, "GET", gh.URL()+"/repos/acme/site/git/ref/heads/main", "", 200)
	}
}

func BenchmarkCreateComment(b *testing.B) {
	gh, alice, w := benchEnv(b)
	w.git("checkout", "-q", "-b", "dev")
	w.commit("dev", map[string]string{"d": "d"})
	w.git("push", "-q", "origin", "dev")
	benchDo(b, alice, "POST", gh.URL()+"/repos/acme/site/pulls", `{"title":"t","head":"dev","base":"main"}`, 201)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchDo(b, alice, "POST", gh.URL()+"/repos/acme/site/issues/1/comments", `{"body":"/promote"}`, 201)
	}
}

// BenchmarkPush is one git push of a new commit over smart HTTP, ref
// snapshots and push/check_suite webhooks included.
func BenchmarkPush(b *testing.B) {
	_, _, w := benchEnv(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.commit(fmt.Sprint("c", i), map[string]string{"public/index.html": fmt.Sprint(i)})
		w.git("push", "-q", "origin", "HEAD:main")
	}
}

// BenchmarkFastForwardRef is the promotion primitive: PATCH git/refs with
// force false onto a child commit.
func BenchmarkFastForwardRef(b *testing.B) {
	gh, alice, w := benchEnv(b)
	var shas []string
	for i := 0; i < 50; i++ {
		shas = append(shas, w.commit(fmt.Sprint("c", i), map[string]string{"f": fmt.Sprint(i)}))
	}
	w.git("push", "-q", "origin", "HEAD:refs/heads/dev")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(shas) == 0 {
			b.StopTimer()
			benchDo(b, alice, "PATCH", gh.URL()+"/repos/acme/site/git/refs/heads/main", `{"sha":"`+w.git("rev-parse", "HEAD~50")+`","force":true}`, 200)
			b.StartTimer()
		}
		benchDo(b, alice, "PATCH", gh.URL()+"/repos/acme/site/git/refs/heads/main", `{"sha":"`+shas[i%len(shas)]+`","force":false}`, 200)
	}
}

// BenchmarkListCommits reads a page of 30 commits (one long-running
// cat-file serves the object reads).
func BenchmarkListCommits(b *testing.B) {
	gh, alice, w := benchEnv(b)
	for i := 0; i < 30; i++ {
		w.commit(fmt.Sprint("c", i), map[string]string{"f": fmt.Sprint(i)})
	}
	w.git("push", "-q", "origin", "HEAD:main")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchDo(b, alice, "GET", gh.URL()+"/repos/acme/site/commits", "", 200)
	}
}
