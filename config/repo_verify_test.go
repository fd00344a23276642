package config

import "testing"

func TestRepoConfigVerify(t *testing.T) {
	cfg := load(t, `version: 1
environments:
  staging:
    deploy: { target: site, url: "https://staging.example.com/" }
    verify: { auto_rollback: true, cache_bust: true }
  dev: { deploy: { target: site }, verify: { url: "http://dev.example.com/" } }
  plain: { deploy: { target: site, prefix: plain/ } }
`)
	st, _ := cfg.Environments.Get("staging")
	if st.Verify == nil || !st.Verify.AutoRollback || !st.Verify.CacheBust || st.Verify.URL != "" {
		t.Fatalf("staging verify = %+v", st.Verify)
	}
	dev, _ := cfg.Environments.Get("dev")
	if dev.Verify == nil || dev.Verify.AutoRollback || dev.Verify.URL != "http://dev.example.com/" {
		t.Fatalf("dev verify = %+v", dev.Verify)
	}
	if plain, _ := cfg.Environments.Get("plain"); plain.Verify != nil {
		t.Fatalf("verify without a verify section: %+v", plain.Verify)
	}
}
