package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidateAgainstAServerConfig(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "server.yml")
	// The validation reads only targets: and cdns:; secrets stay unread.
	os.WriteFile(server, []byte(`public_url: https://hoist.example.com
targets:
  site: { type: s3, bucket: b, access_key_id: AK, secret_access_key: "${UNSET_SECRET}", repos: [acme] }
cdns:
  edge: { type: varnish, nodes: ["http://127.0.0.1:6081"], repos: [acme/site] }
`), 0o600)
	repo := filepath.Join(dir, "hoist.yml")
	os.WriteFile(repo, []byte(`version: 1
site: { root: public }
environments:
  staging: { branch: staging,
             deploy: { target: site, prefix: acme/site/staging/ },
             purge: [ { cdn: edge } ] }
  production: { branch: main, deploy: { target: bucket } }
`), 0o644)
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := runConfigValidate(args, strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, _ := run(repo, "-server", server, "-repo", "evil/site")
	for _, want := range []string{
		repo + `:5:32: deploy target "site" is not open to evil/site`,
		repo + `:6:30: cdn "edge" is not open to evil/site`,
		repo + `:7:49: no deploy target named "bucket" in the server config (have: local, site)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	// The owner's repository may use them; only the unknown name is left.
	code, out, _ = run("-server", server, "-repo", "acme/site", repo)
	if code != 1 || strings.Contains(out, "not open") || !strings.Contains(out, `no deploy target named "bucket"`) {
		t.Errorf("acme/site: exit %d\n%s", code, out)
	}
	// Without -repo, names only.
	if code, out, _ = run("-server", server, repo); code != 1 || strings.Contains(out, "not open") {
		t.Errorf("names only: exit %d\n%s", code, out)
	}
	// Bad usage: -repo without -server, or not owner/name.
	if code, _, errs := run("-repo", "acme/site", repo); code != 2 || !strings.Contains(errs, "-repo needs -server") {
		t.Errorf("-repo alone: exit %d %s", code, errs)
	}
	if code, _, errs := run("-server", server, "-repo", "acme", repo); code != 2 || !strings.Contains(errs, "write owner/name") {
		t.Errorf("-repo acme: exit %d %s", code, errs)
	}
	// A server config without repos: is refused with its line.
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("targets:\n  site: { type: local, dir: /x }\n"), 0o600)
	if code, _, errs := run("-server", bad, repo); code != 2 || !strings.Contains(errs, bad+":2: targets.site: repos is required") {
		t.Errorf("bad server config: exit %d %s", code, errs)
	}
}
