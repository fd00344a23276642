package smokegate_test

// Helpers of this package's tests only; the test world is sitetest.Site.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// startSmoke starts a site whose repository promotes pre-staging into
// staging through the smoke gate (sitetest.CandidateYML with
// candidateOpts), with hoist testing in real Chromium.
func startSmoke(t *testing.T, candidateOpts string, extraEnv map[string]string) *sitetest.Site {
	return sitetest.StartSmokeWith(t, fmt.Sprintf(sitetest.CandidateYML, candidateOpts), extraEnv)
}

// get fetches u.
func get(w *sitetest.Site, u string) (*http.Response, []byte) {
	w.T.Helper()
	resp, err := http.Get(u)
	if err != nil {
		w.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// checkImage asserts hoist serves a check run image publicly as a PNG.
func checkImage(w *sitetest.Site, img map[string]any) {
	w.T.Helper()
	u, _ := img["image_url"].(string)
	if !strings.HasPrefix(u, w.URL+"/artifacts/acme/site/") || !strings.Contains(u, ".png?exp=") {
		w.T.Fatalf("image URL %q is not one of hoist's artifacts", u)
	}
	if alt, _ := img["alt"].(string); alt == "" {
		w.T.Errorf("image %s without alt text", u)
	}
	resp, body := get(w, u)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		w.T.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		w.T.Errorf("Cache-Control %q, want immutable", cc)
	}
}

func actionIDs(cr emulator.CheckRun) []string {
	var ids []string
	for _, a := range cr.Actions {
		ids = append(ids, fmt.Sprint(a["identifier"]))
	}
	return ids
}
