package serverconfig

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestTargetsAndCDNs(t *testing.T) {
	env := validEnv(t)
	env["HOIST_DATA_DIR"] = "/var/lib/hoist"
	env["SITE_SECRET"] = "s3-secret-value"
	env["FASTLY_TOKEN"] = "fastly-token-value"
	path := writeYAML(t, `
targets:
  site-bucket:
    type: s3
    bucket: example-site
    endpoint: http://127.0.0.1:7070
    path_style: true
    access_key_id: AKIAEXAMPLE
    secret_access_key: ${SITE_SECRET}
    public_url: https://www.example.com/
    repos: [acme]
cdns:
  fastly-main: { type: fastly, service_id: SVC, api_token: "${FASTLY_TOKEN}", repos: [acme/site] }
  edge: { type: varnish, nodes: ["http://127.0.0.1:6081"], repos: ["*"] }
`)
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := cfg.Target("site-bucket")
	if err != nil {
		t.Fatal(err)
	}
	if tg.SecretAccessKey != "s3-secret-value" || tg.Bucket != "example-site" || !tg.PathStyle {
		t.Fatalf("target = %#v (secret expanded: %v)", tg, tg.SecretAccessKey == "s3-secret-value")
	}
	local, err := cfg.Target(DefaultTarget)
	if err != nil || local.Type != "local" || local.Dir != filepath.Join("/var/lib/hoist", "sites") {
		t.Fatalf("default target = %v, %v", local, err)
	}
	f, err := cfg.CDNs.Lookup("fastly-main")
	if err != nil || f.APIToken.Reveal() != "fastly-token-value" {
		t.Fatalf("fastly = %v, %v", f, err)
	}
	if _, err := cfg.Target("nope"); err == nil || !strings.Contains(err.Error(), `no deploy target named "nope"`) || !strings.Contains(err.Error(), "site-bucket") {
		t.Fatalf("unknown target: %v", err)
	}

	// No printout shows a secret.
	y, _ := yaml.Marshal(cfg)
	j, _ := json.Marshal(cfg)
	for _, out := range []string{string(y), string(j), fmt.Sprintf("%v %+v %#v", cfg, *cfg, *cfg)} {
		if strings.Contains(out, "s3-secret-value") || strings.Contains(out, "fastly-token-value") {
			t.Fatalf("a secret is printed:\n%s", out)
		}
	}
}

func TestTargetAndCDNErrorsNameTheSetting(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"targets:\n  b: { type: s3 }\n", ":2: targets.b: type s3 needs bucket"},
		{"targets:\n  b: { type: ftp }\n", `targets.b: type "ftp": must be s3 or local`},
		{"targets:\n  b: { type: s3, bucket: x, endpoint: 127.0.0.1 }\n", "targets.b: endpoint"},
		{"targets:\n  b: { type: s3, bucket: x, secret_access_key: s }\n", "targets.b: access_key_id and secret_access_key go together"},
		{"targets:\n  b: { type: s3, bucket: x, access_key_id: a, secret_access_key: \"${NOPE}\" }\n", "targets.b.secret_access_key: refers to the environment variable NOPE, which is not set"},
		{"targets:\n  b: { type: local, dir: /x, public_url: nope }\n", "targets.b.public_url"},
		{"targets:\n  b: { type: local, dirr: /x }\n", "field dirr not found"},
		{"cdns:\n  f: { type: fastly, service_id: S }\n", ":2: cdns.f: type fastly needs api_token"},
		{"cdns:\n  v: { type: varnish }\n", "cdns.v: type varnish needs nodes"},
		{"cdns:\n  - { name: a, type: varnish, nodes: [http://x], repos: [a] }\n  - { name: a, type: varnish, nodes: [http://x], repos: [a] }\n", `cdns.a: the name "a" is used twice`},
	}
	for _, c := range cases {
		_, err := LoadServer(writeYAML(t, c.yaml), envOf(validEnv(t)))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", c.yaml, err, c.want)
		}
	}
}
