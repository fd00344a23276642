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

// With -server, a verify URL whose host is an address on this machine or a
// private network is reported where the file wrote it, unless the server
// allows that host and port (smoke.verify_private_hosts); a host name is
// left to the check itself, which resolves it.
func TestConfigValidateVerifyURL(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "server.yml")
	os.WriteFile(server, []byte(`targets:
  site: { type: local, dir: /srv/www, repos: [acme] }
smoke: { verify_private_hosts: [ "127.0.0.1:6081" ] }
`), 0o600)
	repo := filepath.Join(dir, "hoist.yml")
	os.WriteFile(repo, []byte(`version: 1
site: { root: public }
environments:
  dev: { branch: dev, deploy: { target: site, url: "http://127.0.0.1:6081/" }, verify: {} }
  staging: { branch: staging, deploy: { target: site, url: "https://staging.example.com/" },
             verify: { url: "http://169.254.169.254/latest/meta-data/" } }
  qa: { branch: qa, deploy: { target: site, url: "http://10.0.0.7/" }, verify: { auto_rollback: true } }
  production: { branch: main, deploy: { target: site, url: "http://[::1]:9090/metrics" } }
`), 0o644)
	var out, errb bytes.Buffer
	code := runConfigValidate([]string{"-server", server, repo}, strings.NewReader(""), &out, &errb)
	for _, want := range []string{
		repo + `:6:29: verify url host 169.254.169.254 is a cloud metadata address; hoist does not browse private addresses unless the server allows the host (smoke.verify_private_hosts)`,
		repo + `:7:50: verify url host 10.0.0.7 is a private address;`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// dev's edge is allowed, production is not verified.
	if code != 1 || strings.Count(out.String(), "verify url") != 2 {
		t.Errorf("exit %d, want 1 with two mistakes:\n%s%s", code, out.String(), errb.String())
	}
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("smoke: { verify_private_hosts: [ \"*.internal\" ] }\n"), 0o600)
	if code, _, errs := func() (int, string, string) {
		var o, e bytes.Buffer
		return runConfigValidate([]string{"-server", bad, repo}, strings.NewReader(""), &o, &e), o.String(), e.String()
	}(); code != 2 || !strings.Contains(errs, "smoke.verify_private_hosts (HOIST_SMOKE_VERIFY_PRIVATE_HOSTS): entry 1: \"*.internal\": wildcards are not accepted") {
		t.Errorf("bad server setting: exit %d %s", code, errs)
	}
	// Without -server hoist cannot know the server's setting: the file is
	// valid, and the check refuses such a URL when it runs.
	out.Reset()
	if code := runConfigValidate([]string{repo}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Errorf("without -server: exit %d\n%s", code, out.String())
	}
}
