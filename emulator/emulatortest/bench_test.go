package emulatortest_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// Validation runs from many tests at once; the shared schemas must stand it.
func TestConcurrentChecks(t *testing.T) {
	s := emulatortest.Shared(t)
	payload := readWebhook(t, "pull_request/opened.payload.json")
	update := findExchange(t, "git-refs", "PATCH", "/git/refs/heads/test")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Go(func() {
			errs <- s.CheckWebhook("pull_request", "", payload)
			errs <- s.CheckResponse("PATCH", refPath, 200, update.Header, update.Body)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(testenv.SharedGitHubDir(b), emulatortest.DescriptionFile)
	for b.Loop() {
		if _, err := emulatortest.Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckResponse(b *testing.B) {
	s := emulatortest.Shared(b)
	ex := emulatortest.Fixture(b, "get-repository")[0]
	ex.Body = []byte(`{"has_discussions":false,` + string(ex.Body[1:]))
	if err := s.CheckResponse("GET", "/repos/{owner}/{repo}", 200, ex.Header, ex.Body); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(ex.Body)))
	for b.Loop() {
		_ = s.CheckResponse("GET", "/repos/{owner}/{repo}", 200, ex.Header, ex.Body)
	}
}

func BenchmarkCheckWebhook(b *testing.B) {
	s := emulatortest.Shared(b)
	data, err := readFile(b, "webhooks/pull_request/opened.payload.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.CheckWebhook("pull_request", "opened", data); err != nil {
			b.Fatal(err)
		}
	}
}
