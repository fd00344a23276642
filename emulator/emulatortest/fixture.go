package emulatortest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// Exchange is one recorded request to api.github.com and GitHub's answer.
type Exchange struct {
	Method        string      // upper case
	URL           string      // scheme, host and Path, e.g. https://api.github.com:443/repos/o/r/git/refs
	Path          string      // path and query as requested
	RequestHeader http.Header // as recorded, canonical keys
	RequestBody   []byte      // JSON text, or empty
	Status        int
	Header        http.Header // response headers, canonical keys
	Body          []byte      // response body: JSON text, raw bytes, or empty
}

// recorded is the octokit/fixtures (nock) file format.
type recorded struct {
	Scope            string                     `json:"scope"`
	Method           string                     `json:"method"`
	Path             string                     `json:"path"`
	Body             json.RawMessage            `json:"body"`
	Status           int                        `json:"status"`
	Response         json.RawMessage            `json:"response"`
	ReqHeaders       map[string]json.RawMessage `json:"reqheaders"`
	Headers          map[string]json.RawMessage `json:"headers"`
	ResponseIsBinary bool                       `json:"responseIsBinary"`
}

// Fixture reads a recorded exchange file from the reference folder's
// fixtures/ ("git-refs" or "git-refs.json"); see testenv.SharedGitHubDir
// for when a missing folder skips.
func Fixture(tb testing.TB, name string) []Exchange {
	tb.Helper()
	if !strings.HasSuffix(name, ".json") {
		name += ".json"
	}
	ex, err := LoadFixture(filepath.Join(testenv.SharedGitHubDir(tb), "fixtures", name))
	if err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	return ex
}

// LoadFixture reads a recorded exchange file.
func LoadFixture(path string) ([]Exchange, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fixture: %w", err)
	}
	var recs []recorded
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", path, err)
	}
	out := make([]Exchange, len(recs))
	for i, r := range recs {
		ex := Exchange{
			Method:        strings.ToUpper(r.Method),
			URL:           r.Scope + r.Path,
			Path:          r.Path,
			RequestHeader: headers(r.ReqHeaders),
			Status:        r.Status,
			Header:        headers(r.Headers),
		}
		if ex.RequestBody, err = body(r.Body, false); err != nil {
			return nil, fmt.Errorf("fixture %s: exchange %d (%s %s) request body: %w", path, i, ex.Method, r.Path, err)
		}
		if ex.Body, err = body(r.Response, r.ResponseIsBinary); err != nil {
			return nil, fmt.Errorf("fixture %s: exchange %d (%s %s) response body: %w", path, i, ex.Method, r.Path, err)
		}
		out[i] = ex
	}
	return out, nil
}

// headers turns recorded values, some of them JSON numbers, into header text.
func headers(m map[string]json.RawMessage) http.Header {
	h := make(http.Header, len(m))
	for k, raw := range m {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw)
		}
		h.Add(k, s)
	}
	return h
}

// body turns a recorded body into bytes: a JSON string is the body's text
// (hex when binary), anything else is JSON to be sent as is.
func body(raw json.RawMessage, binary bool) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if binary {
			return hex.DecodeString(s)
		}
		if s == "" {
			return nil, nil
		}
		return []byte(s), nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
