// Package serverconfig holds the server's settings: the YAML file plus
// environment that `hoist serve` reads once at start (deploy targets, CDNs
// and their secrets, the dashboard, smoke, retention, generation). The
// repository's configuration, .github/hoist.yml, is package config; it
// stays free of the adapters these settings name.
//
// The server configuration is one struct, Server. A later section (deploy
// targets, CDNs, smoke settings, …) lives in its own file server_<area>.go:
// its type, plus an init() that calls registerServerSection with its
// defaults and its check; the only line it adds here is its field in Server.
package serverconfig

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hoist-dev/hoist/internal/purge"
)

// Server is the configuration of one `hoist serve` process.
type Server struct {
	// Addr is the listen address of the HTTP server (HOIST_ADDR).
	Addr string `yaml:"addr"`
	// PublicURL is where GitHub and people reach this server; links in
	// check runs and screenshots are built from it (HOIST_PUBLIC_URL).
	PublicURL string `yaml:"public_url"`
	// DataDir holds the SQLite database and local artifacts (HOIST_DATA_DIR).
	DataDir string `yaml:"data_dir"`
	// DatabaseURL selects the store: empty means a SQLite file in DataDir,
	// postgres://… means PostgreSQL (HOIST_DATABASE_URL).
	DatabaseURL string `yaml:"database_url"`

	GitHub  GitHub  `yaml:"github"`
	Jobs    Jobs    `yaml:"jobs"`
	Logging Logging `yaml:"logging"`

	// Targets and CDNs are where sites are deployed and which caches are
	// purged (server_deploy.go).
	Targets Targets    `yaml:"targets"`
	CDNs    purge.CDNs `yaml:"cdns"`

	// Generate holds the per-repository secrets of the signed generation
	// trigger (server_generate.go).
	Generate `yaml:"generate"`

	// Smoke is where smoke tests find their browser and keep screenshots
	// (server_smoke.go).
	Smoke Smoke `yaml:"smoke"`

	// Retention bounds what grows with use (server_retention.go).
	Retention Retention `yaml:"retention"`
	// Dashboard is the dashboard's GitHub sign-in; off unless configured.
	// MetricsAddr serves /metrics on a listener of its own (not on Addr);
	// PreviewAddr and PreviewURL are the preview origin's listener and
	// address (server_dashboard.go).
	Dashboard   Dashboard `yaml:"dashboard"`
	MetricsAddr string    `yaml:"metrics_addr"`
	PreviewAddr string    `yaml:"preview_addr"`
	PreviewURL  string    `yaml:"preview_url"`

	// Fleet holds the fleet API's tokens and the DNS provider of instance
	// hostnames (server_fleet.go).
	Fleet Fleet `yaml:"fleet"`
}

// GitHub is how hoist authenticates as a GitHub App and where the API is.
type GitHub struct {
	// URL is the REST API base URL (HOIST_GITHUB_URL); GitHub Enterprise
	// Server uses https://HOST/api/v3/, the emulator its own address.
	URL string `yaml:"url"`
	// AppID is the GitHub App's numeric id (HOIST_APP_ID).
	AppID int64 `yaml:"app_id"`
	// PrivateKeyFile is the path of the App's PEM private key
	// (HOIST_PRIVATE_KEY_FILE); PrivateKey holds the PEM itself
	// (HOIST_PRIVATE_KEY). One of them is required.
	PrivateKeyFile string `yaml:"private_key_file"`
	PrivateKey     string `yaml:"private_key"`
	// WebhookSecret verifies X-Hub-Signature-256 (HOIST_WEBHOOK_SECRET).
	WebhookSecret string `yaml:"webhook_secret"`
	// Timeout bounds each API request.
	Timeout time.Duration `yaml:"timeout"`
	// WebhookMaxReads is how many webhook bodies are read at once; a
	// request beyond it is answered 503 with Retry-After.
	WebhookMaxReads int `yaml:"webhook_max_reads"`
	// CacheMB bounds, in MiB, the cache of API responses whose ETags are
	// sent back as If-None-Match (a 304 does not count against the rate
	// limit); 0 is the default (32), -1 turns the cache off.
	CacheMB int `yaml:"cache_mb"`
	// WriteInterval is the least time between two writes (POST, PATCH,
	// PUT, DELETE) of one installation once its burst allowance is spent,
	// and WritesPerMinute the most writes of one installation in any
	// minute; the burst allowed after a quiet spell is what the cap leaves
	// over a minute at one write per interval (80 - 60 = 20 by default).
	// GitHub asks for at least a second between writes and at most 80 a
	// minute. Defaults 1s and 80.
	WriteInterval   time.Duration `yaml:"write_interval"`
	WritesPerMinute int           `yaml:"writes_per_minute"`
	// SecondaryWait is the pause of an installation's writes after a
	// secondary rate limit that came without Retry-After; it doubles with
	// each such limit in a row. GitHub asks for at least a minute.
	// Default 1m.
	SecondaryWait time.Duration `yaml:"secondary_wait"`
	// RecoverDeliveries asks GitHub to redeliver webhooks hoist missed
	// (server_recover.go).
	RecoverDeliveries RecoverDeliveries `yaml:"recover_deliveries"`
}

// Jobs tunes the durable job engine that runs webhook handlers and the
// work they start.
type Jobs struct {
	// Workers is how many jobs run at once (HOIST_JOBS_WORKERS).
	Workers int `yaml:"workers"`
	// MaxAttempts is how often a failing job is tried before it is given up.
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one attempt of a job whose kind sets no timeout of
	// its own: the short ones (deliveries, commands, evaluations), which
	// make a few GitHub requests. Deploys and smoke runs set their own.
	Timeout time.Duration `yaml:"timeout"`
	// RescueAfter is how long a job may stay running before it is presumed
	// lost with a crashed replica and retried by another; a job whose kind
	// has a longer timeout of its own is given that long. It must be at
	// least Timeout.
	RescueAfter time.Duration `yaml:"rescue_after"`
	// ShutdownGrace is how long a stopping server lets running jobs finish
	// before cancelling them; cancelled jobs are handed back at once (any
	// replica takes them), waiting ones stay queued.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// PollInterval is how often idle workers look for new jobs that were
	// inserted by another process.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Logging chooses the log format and level.
type Logging struct {
	// Level is one of debug, info, warn, error (HOIST_LOG_LEVEL).
	Level string `yaml:"level"`
	// Format is json, console, or auto: console when stderr is a terminal
	// (HOIST_LOG_FORMAT).
	Format string `yaml:"format"`
}

// MinWebhookSecretLen is the shortest webhook secret accepted: an HMAC key
// much shorter than this can be guessed offline from one signed delivery.
const MinWebhookSecretLen = 16

// DefaultWebhookMaxReads is how many webhook bodies are read at once by
// default: GitHub delivers a handful at a time, and each read may buffer
// up to 25 MB.
const DefaultWebhookMaxReads = 32

// DefaultGitHubCacheMB is the default bound of the API response cache.
const DefaultGitHubCacheMB = 32

// DefaultGitHubWriteInterval and DefaultGitHubWritesPerMinute follow
// GitHub's advice for content-creating requests: at least a second apart,
// at most 80 a minute.
const (
	DefaultGitHubWriteInterval   = time.Second
	DefaultGitHubWritesPerMinute = 80
)

// DefaultGitHubURL is the REST API of github.com.
const DefaultGitHubURL = "https://api.github.com/"

// SettingError names the setting that is wrong, where it came from and why,
// so that a failed start prints one line that says what to fix.
type SettingError struct {
	Setting string // YAML path, e.g. github.app_id
	Env     string // environment variable that sets it, if any
	Source  string // "file.yml:12", "environment" or "" when unset
	Problem string
}

func (e *SettingError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	b.WriteString(e.Setting)
	if e.Env != "" {
		fmt.Fprintf(&b, " (%s)", e.Env)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

// LoadServer reads the server configuration: defaults, then the YAML file
// at path (skipped when path is empty), then the environment, then checks
// it. lookupEnv is os.LookupEnv outside tests.
func LoadServer(path string, lookupEnv func(string) (string, bool)) (*Server, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	cfg := &Server{}
	lines := map[string]int{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := decodeServerYAML(path, data, cfg, lines); err != nil {
			return nil, err
		}
	}
	src := serverSources{file: path, lines: lines, env: map[string]bool{}, lookup: lookupEnv}
	if err := applyServerEnv(cfg, lookupEnv, src.env); err != nil {
		return nil, err
	}
	applyServerDefaults(cfg)
	for _, sec := range serverSections {
		if sec.defaults != nil {
			sec.defaults(cfg)
		}
	}
	// Every mistake is reported at once, one per line, so that a first
	// start does not take one run per missing setting.
	errs := []error{cfg.validate(src)}
	for _, sec := range serverSections {
		if sec.validate != nil {
			errs = append(errs, sec.validate(cfg, src))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// serverSection is one optional part of the server configuration defined in
// its own file. validate reports problems through src.errorf so that the
// message names the setting and its file:line or environment variable.
type serverSection struct {
	name     string
	defaults func(*Server)
	validate func(cfg *Server, src serverSources) error
}

var serverSections []serverSection

// registerServerSection adds a section's defaults and check; call it from
// init() in server_<area>.go. Sections run in registration order, after the
// core settings were checked (even when those have mistakes, so that all
// are reported together).
func registerServerSection(name string, defaults func(*Server), validate func(*Server, serverSources) error) {
	serverSections = append(serverSections, serverSection{name: name, defaults: defaults, validate: validate})
}

// decodeServerYAML decodes strictly (unknown keys are errors, since a misspelt key
// silently ignored is a setting lost) and records the line of every key so
// that later checks can point at it.
func decodeServerYAML(path string, data []byte, cfg *Server, lines map[string]int) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("config: %s", serverYAMLError(path, err))
	}
	if len(root.Content) == 0 {
		return nil // empty file: all defaults
	}
	recordServerLines(root.Content[0], "", lines)
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("config: %s", serverYAMLError(path, err))
	}
	return nil
}

// serverYAMLError rewrites yaml.v3's "yaml: line 3: …" into "file:3: …".
func serverYAMLError(path string, err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		parts := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			parts = append(parts, path+":"+strings.TrimPrefix(m, "line "))
		}
		return strings.Join(parts, "; ")
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.HasPrefix(msg, "line ") {
		return path + ":" + strings.TrimPrefix(msg, "line ")
	}
	return path + ": " + msg
}

func recordServerLines(n *yaml.Node, prefix string, lines map[string]int) {
	if n.Kind == yaml.SequenceNode {
		// Lists of named entries (cdns: - { name: edge, … }) are
		// recorded under their names, as the map form is.
		for _, item := range n.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(item.Content); i += 2 {
				if item.Content[i].Value == "name" && item.Content[i+1].Kind == yaml.ScalarNode {
					key := prefix + "." + item.Content[i+1].Value
					if _, dup := lines[key]; !dup {
						lines[key] = item.Line
						recordServerLines(item, key, lines)
					}
				}
			}
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		if prefix != "" {
			key = prefix + "." + key
		}
		lines[key] = n.Content[i].Line
		recordServerLines(n.Content[i+1], key, lines)
	}
}

type serverSources struct {
	file  string
	lines map[string]int
	env   map[string]bool // env var names that were set
	// lookup reads the environment, for secrets given as ${NAME}.
	lookup func(string) (string, bool)
}

func (s serverSources) errorf(setting, env, format string, args ...any) error {
	e := &SettingError{Setting: setting, Env: env, Problem: fmt.Sprintf(format, args...)}
	switch {
	case env != "" && s.env[env]:
		e.Source = "environment"
	case s.lines[setting] > 0:
		e.Source = fmt.Sprintf("%s:%d", s.file, s.lines[setting])
	}
	return e
}

// envString and friends apply one environment override; they remember which
// variables were set so errors can say where a bad value came from.
func applyServerEnv(cfg *Server, lookup func(string) (string, bool), seen map[string]bool) error {
	str := envString(lookup, seen)
	str("HOIST_ADDR", &cfg.Addr)
	str("HOIST_PUBLIC_URL", &cfg.PublicURL)
	str("HOIST_DATA_DIR", &cfg.DataDir)
	str("HOIST_DATABASE_URL", &cfg.DatabaseURL)
	str("HOIST_GITHUB_URL", &cfg.GitHub.URL)
	str("HOIST_PRIVATE_KEY_FILE", &cfg.GitHub.PrivateKeyFile)
	str("HOIST_PRIVATE_KEY", &cfg.GitHub.PrivateKey)
	str("HOIST_WEBHOOK_SECRET", &cfg.GitHub.WebhookSecret)
	str("HOIST_LOG_LEVEL", &cfg.Logging.Level)
	str("HOIST_LOG_FORMAT", &cfg.Logging.Format)
	if v, ok := lookup("HOIST_APP_ID"); ok {
		seen["HOIST_APP_ID"] = true
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return &SettingError{Setting: "github.app_id", Env: "HOIST_APP_ID", Source: "environment",
				Problem: fmt.Sprintf("%q is not a number", v)}
		}
		cfg.GitHub.AppID = id
	}
	if v, ok := lookup("HOIST_JOBS_WORKERS"); ok {
		seen["HOIST_JOBS_WORKERS"] = true
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return &SettingError{Setting: "jobs.workers", Env: "HOIST_JOBS_WORKERS", Source: "environment",
				Problem: fmt.Sprintf("%q is not a number", v)}
		}
		cfg.Jobs.Workers = n
	}
	applyDashboardEnv(cfg, lookup, seen)
	return applySmokeEnv(cfg, lookup, seen)
}

// envString returns a setter for string settings taken from the
// environment as they are; it records each variable it read in seen.
func envString(lookup func(string) (string, bool), seen map[string]bool) func(name string, dst *string) {
	return func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			seen[name] = true
			*dst = v
		}
	}
}

func applyServerDefaults(cfg *Server) {
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if cfg.GitHub.URL == "" {
		cfg.GitHub.URL = DefaultGitHubURL
	}
	if !strings.HasSuffix(cfg.GitHub.URL, "/") {
		cfg.GitHub.URL += "/"
	}
	if cfg.GitHub.Timeout == 0 {
		cfg.GitHub.Timeout = 30 * time.Second
	}
	if cfg.GitHub.CacheMB == 0 {
		cfg.GitHub.CacheMB = DefaultGitHubCacheMB
	}
	if cfg.GitHub.WebhookMaxReads == 0 {
		cfg.GitHub.WebhookMaxReads = DefaultWebhookMaxReads
	}
	if cfg.GitHub.WriteInterval == 0 {
		cfg.GitHub.WriteInterval = DefaultGitHubWriteInterval
	}
	if cfg.GitHub.WritesPerMinute == 0 {
		cfg.GitHub.WritesPerMinute = DefaultGitHubWritesPerMinute
	}
	if cfg.GitHub.SecondaryWait == 0 {
		cfg.GitHub.SecondaryWait = time.Minute
	}
	if cfg.Jobs.Workers == 0 {
		cfg.Jobs.Workers = 10
	}
	if cfg.Jobs.MaxAttempts == 0 {
		cfg.Jobs.MaxAttempts = 10
	}
	if cfg.Jobs.Timeout == 0 {
		// A minute holds a reply's requests and a wait for GitHub's
		// secondary limit (up to github.secondary_wait); a crashed
		// replica's short jobs are taken over soon after it.
		cfg.Jobs.Timeout = time.Minute
	}
	if cfg.Jobs.RescueAfter == 0 {
		// A little past the timeout: a job cancelled by its timeout is
		// recorded by its own replica, not rescued.
		cfg.Jobs.RescueAfter = cfg.Jobs.Timeout + 15*time.Second
	}
	if cfg.Jobs.ShutdownGrace == 0 {
		cfg.Jobs.ShutdownGrace = 30 * time.Second
	}
	if cfg.Jobs.PollInterval == 0 {
		cfg.Jobs.PollInterval = time.Second
	}
	if cfg.Logging.Level == "" {
		cfg.Logging.Level = "info"
	}
	if cfg.Logging.Format == "" {
		cfg.Logging.Format = "auto"
	}
}

func (cfg *Server) validate(s serverSources) error {
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		fail(s.errorf("addr", "HOIST_ADDR", "%q is not a listen address like :8080 or 127.0.0.1:8080", cfg.Addr))
	}
	if cfg.PublicURL == "" {
		fail(s.errorf("public_url", "HOIST_PUBLIC_URL", "is required: the https:// address where GitHub reaches this server"))
	} else if err := checkServerURL(cfg.PublicURL); err != nil {
		fail(s.errorf("public_url", "HOIST_PUBLIC_URL", "%v", err))
	}
	if cfg.DatabaseURL != "" && !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
		// Never echo the value: it may carry a password.
		fail(s.errorf("database_url", "HOIST_DATABASE_URL", "must be empty (SQLite in the data dir) or a postgres:// URL"))
	}
	if err := checkServerURL(cfg.GitHub.URL); err != nil {
		fail(s.errorf("github.url", "HOIST_GITHUB_URL", "%v", err))
	}
	if cfg.GitHub.AppID <= 0 {
		fail(s.errorf("github.app_id", "HOIST_APP_ID", "is required: the GitHub App's numeric id"))
	}
	if cfg.GitHub.PrivateKey == "" && cfg.GitHub.PrivateKeyFile == "" {
		fail(s.errorf("github.private_key_file", "HOIST_PRIVATE_KEY_FILE", "is required (or github.private_key / HOIST_PRIVATE_KEY): the App's PEM private key"))
	} else if cfg.GitHub.PrivateKey == "" {
		if _, err := os.Stat(cfg.GitHub.PrivateKeyFile); err != nil {
			fail(s.errorf("github.private_key_file", "HOIST_PRIVATE_KEY_FILE", "cannot read %s: %v", cfg.GitHub.PrivateKeyFile, errors.Unwrap(err)))
		}
	}
	if cfg.GitHub.WebhookSecret == "" {
		fail(s.errorf("github.webhook_secret", "HOIST_WEBHOOK_SECRET", "is required: the secret GitHub signs webhooks with"))
	} else if n := len(cfg.GitHub.WebhookSecret); n < MinWebhookSecretLen {
		// Never echo the secret itself.
		fail(s.errorf("github.webhook_secret", "HOIST_WEBHOOK_SECRET", "the secret is %d bytes; use at least %d (for example: openssl rand -hex 32), and the same in the GitHub App's settings", n, MinWebhookSecretLen))
	}
	if cfg.GitHub.CacheMB < -1 {
		fail(s.errorf("github.cache_mb", "", "must be -1 (off) or a size in MiB, got %d", cfg.GitHub.CacheMB))
	}
	if cfg.GitHub.WriteInterval < 0 {
		return s.errorf("github.write_interval", "", "must be a positive duration, got %s", cfg.GitHub.WriteInterval)
	}
	if cfg.GitHub.WritesPerMinute < 1 {
		return s.errorf("github.writes_per_minute", "", "must be at least 1, got %d", cfg.GitHub.WritesPerMinute)
	}
	if cfg.GitHub.SecondaryWait < 0 {
		return s.errorf("github.secondary_wait", "", "must be a positive duration, got %s", cfg.GitHub.SecondaryWait)
	}
	if cfg.GitHub.WebhookMaxReads < 1 {
		fail(s.errorf("github.webhook_max_reads", "", "must be at least 1, got %d", cfg.GitHub.WebhookMaxReads))
	}
	if cfg.Jobs.Workers < 1 {
		fail(s.errorf("jobs.workers", "HOIST_JOBS_WORKERS", "must be at least 1, got %d", cfg.Jobs.Workers))
	}
	if cfg.Jobs.MaxAttempts < 1 {
		fail(s.errorf("jobs.max_attempts", "", "must be at least 1, got %d", cfg.Jobs.MaxAttempts))
	}
	if cfg.Jobs.Timeout < time.Second {
		return s.errorf("jobs.timeout", "", "must be at least 1s, got %s", cfg.Jobs.Timeout)
	}
	if cfg.Jobs.ShutdownGrace < 0 {
		return s.errorf("jobs.shutdown_grace", "", "must be a positive duration, got %s", cfg.Jobs.ShutdownGrace)
	}
	if cfg.Jobs.RescueAfter < cfg.Jobs.Timeout {
		fail(s.errorf("jobs.rescue_after", "", "must be at least jobs.timeout (%s), got %s", cfg.Jobs.Timeout, cfg.Jobs.RescueAfter))
	}
	switch cfg.Logging.Level {
	case "debug", "info", "warn", "error":
	default:
		fail(s.errorf("logging.level", "HOIST_LOG_LEVEL", "%q is not one of debug, info, warn, error", cfg.Logging.Level))
	}
	switch cfg.Logging.Format {
	case "auto", "json", "console":
	default:
		fail(s.errorf("logging.format", "HOIST_LOG_FORMAT", "%q is not one of auto, json, console", cfg.Logging.Format))
	}
	return errors.Join(errs...)
}

func checkServerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return nil
}

// SQLitePath is the database file used when DatabaseURL is empty.
func (cfg *Server) SQLitePath() string { return filepath.Join(cfg.DataDir, "hoist.db") }

// PrivateKeyPEM returns the App's private key, reading the file if needed.
func (cfg *Server) PrivateKeyPEM() ([]byte, error) {
	if cfg.GitHub.PrivateKey != "" {
		return []byte(cfg.GitHub.PrivateKey), nil
	}
	b, err := os.ReadFile(cfg.GitHub.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: github.private_key_file (HOIST_PRIVATE_KEY_FILE): %w", err)
	}
	return b, nil
}
