package hoisttest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/world"
)

// A world is the user, the App with a working key, the repositories and
// one installation on the ones asked for; a push to an installed
// repository reaches the App's webhook URL signed as emulator.Sign signs.
func TestWorldInstallsAndSignsAsTheEmulator(t *testing.T) {
	type got struct {
		event, sig string
		body       []byte
	}
	hooks := make(chan got, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooks <- got{r.Header.Get("X-GitHub-Event"), r.Header.Get("X-Hub-Signature-256"), body}
	}))
	t.Cleanup(recv.Close)
	w := hoisttest.Start(t, hoisttest.Spec{App: emulator.AppSpec{WebhookURL: recv.URL},
		Repos: []string{"site", "other"}, Installed: []string{"site"}})
	if w.App.WebhookSecret != "webhook-secret-of-hoist" || w.InstallationID == 0 {
		t.Fatalf("app %+v, installation %d", w.App, w.InstallationID)
	}
	// The App's key works: the installation client reads the installed
	// repository and not the other one.
	bot := w.GH.InstallationClient(w.App, w.InstallationID)
	repos, _, err := bot.Apps.ListRepos(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(repos.Repositories) != 1 || repos.Repositories[0].GetFullName() != "acme/site" {
		t.Fatalf("installation sees %v, want acme/site alone", repos.Repositories)
	}

	w.Put("site", "index.html", "hello", "Add the page")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case h := <-hooks:
			if h.event != "push" {
				continue
			}
			if want := emulator.Sign(w.App.WebhookSecret, h.body); h.sig != want {
				t.Fatalf("push signed %q, emulator.Sign gives %q", h.sig, want)
			}
			return
		case <-deadline:
			t.Fatal("no push delivery within 20s")
		}
	}
}

// WaitFor returns as soon as the condition holds, and ErrTimeout when it
// never does.
func TestWaitFor(t *testing.T) {
	n := 0
	if err := world.WaitFor(5*time.Second, func() bool { n++; return n == 3 }); err != nil || n != 3 {
		t.Fatalf("err %v after %d checks, want nil after 3", err, n)
	}
	start := time.Now()
	err := world.WaitFor(100*time.Millisecond, func() bool { return false })
	if !errors.Is(err, world.ErrTimeout) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}
