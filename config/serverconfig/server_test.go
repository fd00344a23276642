package serverconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func validEnv(t *testing.T) map[string]string {
	key := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(key, []byte("-----BEGIN RSA PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"HOIST_PUBLIC_URL":       "https://hoist.example.com",
		"HOIST_APP_ID":           "42",
		"HOIST_PRIVATE_KEY_FILE": key,
		"HOIST_WEBHOOK_SECRET":   "s3cret-s3cret-s3cret",
	}
}

// loadServerWith loads the server config from yaml (no file when empty) and
// a valid environment with env's overrides.
func loadServerWith(t *testing.T, yaml string, env map[string]string) (*Server, error) {
	t.Helper()
	all := validEnv(t)
	for k, v := range env {
		all[k] = v
	}
	path := ""
	if yaml != "" {
		path = writeYAML(t, yaml)
	}
	return LoadServer(path, envOf(all))
}

func writeYAML(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "hoist-server.yml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadServerFromEnvironmentOnly(t *testing.T) {
	env := validEnv(t)
	env["HOIST_ADDR"] = "127.0.0.1:9999"
	env["HOIST_DATA_DIR"] = "/var/lib/hoist"
	env["HOIST_DATABASE_URL"] = "postgres://hoist@db/hoist"
	env["HOIST_GITHUB_URL"] = "https://ghe.example.com/api/v3"
	cfg, err := LoadServer("", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" || cfg.PublicURL != "https://hoist.example.com" || cfg.DataDir != "/var/lib/hoist" ||
		cfg.DatabaseURL != "postgres://hoist@db/hoist" || cfg.GitHub.AppID != 42 || cfg.GitHub.WebhookSecret != "s3cret-s3cret-s3cret" {
		t.Fatalf("environment not applied: %+v", cfg)
	}
	if cfg.GitHub.URL != "https://ghe.example.com/api/v3/" {
		t.Errorf("github url %q, want a trailing slash added", cfg.GitHub.URL)
	}
	if cfg.Jobs.Workers != 10 || cfg.Jobs.ShutdownGrace != 30*time.Second || cfg.Logging.Format != "auto" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestLoadServerDefaults(t *testing.T) {
	cfg, err := LoadServer("", envOf(validEnv(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.DataDir != "data" || cfg.GitHub.URL != DefaultGitHubURL || cfg.DatabaseURL != "" {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
	if got := cfg.SQLitePath(); got != filepath.Join("data", "hoist.db") {
		t.Errorf("SQLitePath = %q", got)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	path := writeYAML(t, "addr: 127.0.0.1:1\npublic_url: https://from-file.example\ngithub:\n  app_id: 7\n  webhook_secret: file-secret-file-secret\njobs:\n  workers: 3\n")
	env := validEnv(t)
	delete(env, "HOIST_APP_ID")
	env["HOIST_ADDR"] = "127.0.0.1:2"
	cfg, err := LoadServer(path, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:2" {
		t.Errorf("addr %q: environment must win over the file", cfg.Addr)
	}
	if cfg.GitHub.AppID != 7 || cfg.Jobs.Workers != 3 {
		t.Errorf("file values lost: %+v", cfg)
	}
	if cfg.PublicURL != "https://hoist.example.com" || cfg.GitHub.WebhookSecret != "s3cret-s3cret-s3cret" {
		t.Errorf("environment not applied over file: %+v", cfg)
	}
}

func TestPrivateKeyInline(t *testing.T) {
	env := validEnv(t)
	delete(env, "HOIST_PRIVATE_KEY_FILE")
	env["HOIST_PRIVATE_KEY"] = "PEM"
	cfg, err := LoadServer("", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cfg.PrivateKeyPEM()
	if err != nil || string(b) != "PEM" {
		t.Fatalf("PrivateKeyPEM = %q, %v", b, err)
	}
}

func TestMissingSettingsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		drop, want string
	}{
		{"HOIST_PUBLIC_URL", "public_url (HOIST_PUBLIC_URL): is required"},
		{"HOIST_APP_ID", "github.app_id (HOIST_APP_ID): is required"},
		{"HOIST_PRIVATE_KEY_FILE", "github.private_key_file (HOIST_PRIVATE_KEY_FILE): is required"},
		{"HOIST_WEBHOOK_SECRET", "github.webhook_secret (HOIST_WEBHOOK_SECRET): is required"},
	} {
		env := validEnv(t)
		delete(env, tc.drop)
		_, err := LoadServer("", envOf(env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("without %s: error %v, want it to contain %q", tc.drop, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error must be one line: %q", err)
		}
	}
}

func TestBadSettingsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{"HOIST_ADDR", "nonsense", "config: environment: addr (HOIST_ADDR): \"nonsense\" is not a listen address"},
		{"HOIST_APP_ID", "abc", "github.app_id (HOIST_APP_ID): \"abc\" is not a number"},
		{"HOIST_PUBLIC_URL", "hoist.example.com", "public_url (HOIST_PUBLIC_URL): \"hoist.example.com\" is not an absolute http(s) URL"},
		{"HOIST_GITHUB_URL", "ftp://x", "github.url (HOIST_GITHUB_URL)"},
		{"HOIST_DATABASE_URL", "mysql://user:pw@db", "database_url (HOIST_DATABASE_URL): must be empty"},
		{"HOIST_PRIVATE_KEY_FILE", "/nonexistent/key.pem", "github.private_key_file (HOIST_PRIVATE_KEY_FILE): cannot read /nonexistent/key.pem"},
		{"HOIST_LOG_LEVEL", "loud", "logging.level (HOIST_LOG_LEVEL)"},
		{"HOIST_JOBS_WORKERS", "-1", "jobs.workers (HOIST_JOBS_WORKERS): must be at least 1"},
		{"HOIST_WEBHOOK_SECRET", "short-secret", "config: environment: github.webhook_secret (HOIST_WEBHOOK_SECRET): the secret is 12 bytes; use at least 16"},
	} {
		env := validEnv(t)
		env[tc.key] = tc.value
		_, err := LoadServer("", envOf(env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: error %v, want it to contain %q", tc.key, tc.value, err, tc.want)
		}
	}
	// A bad database URL is reported without echoing its password.
	env := validEnv(t)
	env["HOIST_DATABASE_URL"] = "mysql://user:hunter2@db"
	if _, err := LoadServer("", envOf(env)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("database url error leaks or is missing: %v", err)
	}
}

func TestYAMLErrorsCarryFileAndLine(t *testing.T) {
	env := validEnv(t)
	for _, tc := range []struct {
		body, want string
	}{
		{"addr: :8080\ngithub:\n  app_id: [1, 2]\n", ":3: cannot unmarshal !!seq into int64"},
		{"addr: :8080\ngithub:\n  app_idd: 1\n", ":3: field app_idd not found"},
		{"addr: :8080\n  bad indent: x\n", ":2: "},
		{"jobs:\n  timeout: soon\n", ":2: cannot unmarshal !!str `soon` into time.Duration"},
	} {
		path := writeYAML(t, tc.body)
		_, err := LoadServer(path, envOf(env))
		if err == nil || !strings.Contains(err.Error(), path+tc.want) {
			t.Errorf("yaml %q: error %v, want it to contain %q", tc.body, err, path+tc.want)
		}
	}
	// A value that parses but is wrong points at its line too.
	path := writeYAML(t, "addr: :8080\njobs:\n  timeout: 1h\n  rescue_after: 1m\n")
	_, err := LoadServer(path, envOf(env))
	if err == nil || !strings.Contains(err.Error(), path+":4: jobs.rescue_after: must be at least jobs.timeout") {
		t.Errorf("error %v, want file:line of jobs.rescue_after", err)
	}
	// A short webhook secret in the file points at its line, without
	// echoing it.
	path = writeYAML(t, "github:\n  webhook_secret: hunter2hunter2\n")
	delete(env, "HOIST_WEBHOOK_SECRET")
	_, err = LoadServer(path, envOf(env))
	if err == nil || !strings.Contains(err.Error(), path+":2: github.webhook_secret (HOIST_WEBHOOK_SECRET): the secret is 14 bytes") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("short secret in file: %v", err)
	}
	if _, err := LoadServer(filepath.Join(t.TempDir(), "absent.yml"), envOf(env)); err == nil || !strings.Contains(err.Error(), "absent.yml") {
		t.Errorf("missing file: %v", err)
	}
}

// A first start without settings names every missing one at once, one per
// line, instead of one per run; a bad value elsewhere is listed with them.
func TestEveryMissingSettingAtOnce(t *testing.T) {
	_, err := LoadServer(writeYAML(t, "github: { cache_mb: -5 }\nlogging: { level: loud }\n"), envOf(map[string]string{}))
	if err == nil {
		t.Fatal("an empty configuration loaded")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		"public_url (HOIST_PUBLIC_URL): is required",
		"github.app_id (HOIST_APP_ID): is required",
		"github.private_key_file (HOIST_PRIVATE_KEY_FILE): is required",
		"github.webhook_secret (HOIST_WEBHOOK_SECRET): is required",
		"github.cache_mb: must be -1 (off)",
		`logging.level (HOIST_LOG_LEVEL): "loud" is not one of`,
	} {
		found := 0
		for _, l := range lines {
			if strings.Contains(l, want) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%q is on %d lines of:\n%s", want, found, err)
		}
	}
	if len(lines) != 6 {
		t.Errorf("%d lines, want 6 (one per mistake):\n%s", len(lines), err)
	}
	var se *SettingError
	if !errors.As(err, &se) {
		t.Errorf("the joined error hides the SettingErrors: %T", err)
	}
}
