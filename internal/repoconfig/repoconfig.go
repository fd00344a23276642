// Package repoconfig is the configuration in force of each repository:
// one loader of .github/hoist.yml (the repository's own, else its owner's
// .github repository, cached by commit, checked against this server's
// targets and CDNs) with a last-good fallback (a broken file never
// replaces a good one), and the hoist/config check run that reports a
// file's mistakes. Promotions, the smoke gate, publishing, commands, the
// dashboard and generation all read through it.
package repoconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/store"
)

// ConfigCheckName is the check run that reports whether a commit's
// .github/hoist.yml is valid.
const ConfigCheckName = "hoist/config"

// Loader is the one reader of repository configurations: it reads the
// file (the repository's own, else its owner's .github repository, cached
// by commit), checks it against this server, and decides which one is in
// force (a broken file never replaces the last good one). Promotions,
// smoke tests, publishing, commands, the dashboard and generation all ask
// it, so they agree on a broken file.
type Loader struct {
	clients githubapp.ClientCreator
	store   *store.Store
	engine  *jobs.Engine
	cfg     *serverconfig.Server
	configs *gh.ConfigLoader

	mu sync.Mutex
	// lastGood is, per repository, a digest of the configuration last
	// stored as good (so that an evaluation does not write it again).
	lastGood map[string][sha256.Size]byte
}

// Deps is what a Loader needs.
type Deps struct {
	Clients githubapp.ClientCreator
	Store   *store.Store
	// Engine queues hoist/config check runs; nil when only reading.
	Engine *jobs.Engine
	// Server vets configurations against the server's targets and CDNs;
	// nil vets nothing.
	Server *serverconfig.Server
	// Configs reads and caches the files; nil is a default cache.
	Configs *gh.ConfigLoader
}

// New returns a Loader.
func New(d Deps) *Loader {
	if d.Configs == nil {
		d.Configs = gh.NewConfigLoader(0)
	}
	return &Loader{clients: d.Clients, store: d.Store, engine: d.Engine, cfg: d.Server, configs: d.Configs}
}

// Workers registers the hoist/config check worker.
func (s *Loader) Workers(e *jobs.Engine) {
	river.AddWorker(e.Workers(), &configCheckWorker{s: s})
}

// RepoEvent is what every repository event carries that an evaluation needs.
type RepoEvent struct {
	Installation  int64
	Owner, Repo   string
	DefaultBranch string
	Actor         string
}

// EventOf is the RepoEvent of an event's installation, repository and sender.
func EventOf(inst *github.Installation, r *github.Repository, sender *github.User) RepoEvent {
	return RepoEvent{Installation: inst.GetID(), Owner: r.GetOwner().GetLogin(), Repo: r.GetName(),
		DefaultBranch: r.GetDefaultBranch(), Actor: sender.GetLogin()}
}

// Repo is the repository of re, read with its installation's client.
func (s *Loader) Repo(re RepoEvent) (*gh.Repo, error) {
	client, err := s.clients.NewInstallationClient(re.Installation)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", re.Installation, err)
	}
	return gh.NewRepo(client, re.Owner, re.Repo), nil
}

// PipelineFor loads .github/hoist.yml from the default branch (or the
// owner's default). A repository without one is left alone (nil
// pipeline). A broken file with no last good one is an error for the user
// to fix, not for a retry to overcome.
func (s *Loader) PipelineFor(ctx context.Context, re RepoEvent) (*pipeline.Pipeline, *gh.Repo, error) {
	repo, err := s.Repo(re)
	if err != nil {
		return nil, nil, err
	}
	lc, err := s.loadConfig(ctx, repo, re.DefaultBranch)
	if errors.Is(err, gh.ErrNoConfig) {
		return nil, repo, nil
	}
	if err != nil && !errors.Is(err, gh.ErrInvalidConfig) {
		return nil, nil, err
	}
	cfg, err := s.chooseConfig(ctx, repo, lc)
	if err != nil {
		return nil, nil, err
	}
	return pipeline.New(cfg), repo, nil
}

// chooseConfig decides which configuration is in force, given the one read
// from the default branch (lc, from the repository or its owner's .github
// repository): a valid file is in force and remembered as the last good
// one; a broken file never replaces a good one (a typo must not drop gates
// or stop promotions), so the last good configuration stays in force while
// the hoist/config check run reports the mistakes. Broken with nothing good
// before it is an error for the user to fix, not for a retry to overcome.
func (s *Loader) chooseConfig(ctx context.Context, repo *gh.Repo, lc *gh.LoadedConfig) (*config.RepoConfig, error) {
	if lc.Err == nil {
		zerolog.Ctx(ctx).Debug().Str("repo", repo.FullName()).Str("config_from", lc.Origin.String()).Msg("configuration in force")
		if err := s.rememberGood(ctx, repo.FullName(), "", lc.Data); err != nil {
			return nil, err
		}
		return lc.Config, nil
	}
	perr := lc.Err
	var lastGood *config.RepoConfig
	stored, err := s.store.LastGoodRepoConfig(ctx, repo.FullName())
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		// The stored file was valid when stored; one that no longer parses
		// (a newer hoist is stricter) is no good either.
		lastGood, _ = config.LoadRepoConfig(config.RepoConfigPath, stored.Content)
		lastGood = s.vetLastGood(repo.FullName(), lastGood)
	}
	choice := config.ChooseRepoConfig(lastGood, nil, perr)
	if choice.Source == config.RepoConfigLastGood {
		zerolog.Ctx(ctx).Info().Str("repo", repo.FullName()).Str("config_from", lc.Origin.String()).Str("config_sha", stored.SHA).
			Msg(config.RepoConfigPath + " has mistakes; the last good configuration stays in force")
		return choice.Config, nil
	}
	return nil, jobs.Permanent(fmt.Errorf("%s of %s from %s: %w", config.RepoConfigPath, repo.FullName(), lc.Origin, perr))
}

// rememberGood stores data as repo's last good configuration unless it is
// what was stored already.
func (s *Loader) rememberGood(ctx context.Context, repo, sha string, data []byte) error {
	sum := sha256.Sum256(data)
	s.mu.Lock()
	known, ok := s.lastGood[repo]
	s.mu.Unlock()
	if ok && known == sum && sha == "" {
		return nil
	}
	if sha == "" {
		// Read at a branch, not a commit: keep the commit named by the
		// hoist/config check when the content is the same.
		stored, err := s.store.LastGoodRepoConfig(ctx, repo)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && bytes.Equal(stored.Content, data) {
			s.noteGood(repo, sum)
			return nil
		}
	}
	if err := s.store.SaveRepoConfig(ctx, store.RepoConfig{Repo: repo, SHA: sha, Content: data}); err != nil {
		return err
	}
	s.noteGood(repo, sum)
	return nil
}

func (s *Loader) noteGood(repo string, sum [sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastGood == nil {
		s.lastGood = map[string][sha256.Size]byte{}
	}
	s.lastGood[repo] = sum
}

func (s *Loader) forgetGood(repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.lastGood, repo)
}

// touchesConfig reports whether a push to the default branch may have
// changed .github/hoist.yml: a commit of the push added, changed or removed
// it, or the push does not list its commits in full (GitHub lists at most
// 2,048, the emulator 20), or it created the branch.
func touchesConfig(ev *github.PushEvent) bool {
	if ev.GetCreated() || ev.GetForced() || len(ev.Commits) == 0 || len(ev.Commits) >= 20 {
		return true
	}
	return changesConfig(ev)
}

// changesConfig reports whether a commit listed in the push added, changed
// or removed .github/hoist.yml.
func changesConfig(ev *github.PushEvent) bool {
	for _, c := range ev.Commits {
		for _, files := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, f := range files {
				if f == config.RepoConfigPath {
					return true
				}
			}
		}
	}
	return false
}

// ConfigCheckArgs asks for the hoist/config check run of one commit.
// Unique by its arguments, so a redelivered push reports once.
type ConfigCheckArgs struct {
	Installation int64  `json:"installation"`
	Owner        string `json:"owner"`
	Repo         string `json:"repo"`
	SHA          string `json:"sha"`
	// DefaultBranch is set when the commit is on another branch (a pull
	// request's, say): its file is reported but not in force, and never
	// stored as the last good one.
	DefaultBranch string `json:"default_branch,omitempty"`
}

// Kind names the job for River.
func (ConfigCheckArgs) Kind() string { return "hoist_config_check" }

// InsertOpts makes the check unique per commit.
func (ConfigCheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type configCheckWorker struct {
	river.WorkerDefaults[ConfigCheckArgs]
	s *Loader
}

// Work reads the file at the commit, remembers it when valid and reports
// the check run: success with a summary of the pipeline, or failure with
// each mistake as an annotation on its line and column, saying which
// configuration stays in force.
func (w *configCheckWorker) Work(ctx context.Context, job *river.Job[ConfigCheckArgs]) error {
	a := job.Args
	client, err := w.s.clients.NewInstallationClient(a.Installation)
	if err != nil {
		return fmt.Errorf("client for installation %d: %w", a.Installation, err)
	}
	repo := gh.NewRepo(client, a.Owner, a.Repo)
	ctx = zerolog.Ctx(ctx).With().Str("repo", repo.FullName()).Str("sha", a.SHA).Logger().WithContext(ctx)
	lc, err := w.s.loadConfigAt(ctx, repo, a.SHA)
	switch {
	case errors.Is(err, gh.ErrNoConfig) && a.DefaultBranch != "":
		return nil
	case errors.Is(err, gh.ErrNoConfig):
		// The file was removed and the owner has no default: the
		// repository no longer wants hoist.
		w.s.forgetGood(repo.FullName())
		return w.s.store.DeleteRepoConfig(ctx, repo.FullName())
	case err != nil && !errors.Is(err, gh.ErrInvalidConfig):
		return err // could not read: retry
	}
	if a.DefaultBranch != "" && lc.Origin.OwnerDefault {
		return nil // the branch has no file of its own to report on
	}
	from := "Read from " + checks.CodeCell(lc.Origin.String()) + ".\n\n"
	cfg, perr := lc.Config, lc.Err
	if perr == nil && a.DefaultBranch != "" {
		out := checks.Output{Title: config.RepoConfigPath + " is valid", Summary: fmt.Sprintf(
			"It takes effect once it is on the default branch %s.\n\n```\n%s```\n", checks.CodeCell(a.DefaultBranch), cfg.Summary())}
		return w.s.reportConfig(ctx, repo, a.SHA, "success", out)
	}
	if perr != nil && a.DefaultBranch != "" {
		lead := fmt.Sprintf("hoist reads the configuration from the default branch %s: there this file would be refused, "+
			"and the configuration in force would stay.", checks.CodeCell(a.DefaultBranch))
		return w.s.reportConfig(ctx, repo, a.SHA, "failure", configFailure(perr, lead))
	}
	if perr == nil {
		// Checks of quick pushes may finish out of order: store the file
		// only while it is still the default branch's.
		cur, err := w.s.loadConfig(ctx, repo, "")
		if err != nil && !errors.Is(err, gh.ErrNoConfig) && !errors.Is(err, gh.ErrInvalidConfig) {
			return err
		}
		if cur != nil && bytes.Equal(cur.Data, lc.Data) {
			if err := w.s.rememberGood(ctx, repo.FullName(), a.SHA, lc.Data); err != nil {
				return err
			}
		}
		title := config.RepoConfigPath + " is valid"
		if lc.Origin.OwnerDefault {
			title = "The owner's default configuration is valid"
		}
		out := checks.Output{Title: title, Summary: from + "```\n" + cfg.Summary() + "```\n"}
		return w.s.reportConfig(ctx, repo, a.SHA, "success", out)
	}
	stored, err := w.s.store.LastGoodRepoConfig(ctx, repo.FullName())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var lastGood *config.RepoConfig
	if err == nil {
		lastGood, _ = config.LoadRepoConfig(config.RepoConfigPath, stored.Content)
		lastGood = w.s.vetLastGood(repo.FullName(), lastGood)
	}
	choice := config.ChooseRepoConfig(lastGood, nil, perr)
	zerolog.Ctx(ctx).Warn().Err(perr).Str("config_from", lc.Origin.String()).Str("in_force", choice.Source.String()).
		Msg(config.RepoConfigPath + " has mistakes")
	out := ConfigFailureOutput(perr, choice.Source, stored.SHA)
	out.Summary = from + out.Summary
	return w.s.reportConfig(ctx, repo, a.SHA, "failure", out)
}

func (s *Loader) reportConfig(ctx context.Context, repo *gh.Repo, sha, conclusion string, out checks.Output) error {
	outputs, err := out.Requests("")
	if err != nil {
		return jobs.Permanent(fmt.Errorf("%s output: %w", ConfigCheckName, err))
	}
	if _, err := repo.CompleteCheckRun(ctx, sha, ConfigCheckName, conclusion, "", outputs); err != nil {
		return err
	}
	return nil
}

// ConfigFailureOutput is the hoist/config check run of a broken file: every
// mistake as file:line:col in the summary and as an annotation on its line,
// and which configuration is in force meanwhile (the last good one, from
// commit lastGoodSHA when known, or none).
func ConfigFailureOutput(perr error, inForce config.RepoConfigSource, lastGoodSHA string) checks.Output {
	lead := "**hoist does nothing in this repository** until these mistakes are fixed: there is no earlier valid configuration."
	if inForce == config.RepoConfigLastGood {
		lead = "**The last good configuration stays in force"
		if lastGoodSHA != "" {
			lead += fmt.Sprintf(" (from commit `%s`)", shortSHA(lastGoodSHA))
		}
		lead += "** until these mistakes are fixed: promotions go on under its rules."
	}
	return configFailure(perr, lead)
}

// configFailure is the failing output: lead (markdown), then every mistake.
func configFailure(perr error, lead string) checks.Output {
	var errs config.RepoConfigErrors
	if !errors.As(perr, &errs) {
		errs = config.RepoConfigErrors{{File: config.RepoConfigPath, Line: 1, Column: 1, Message: perr.Error()}}
	}
	n := len(errs)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	out := checks.Output{Title: fmt.Sprintf("%d mistake%s in %s", n, plural, config.RepoConfigPath)}
	var b strings.Builder
	b.WriteString(lead + "\n\n")
	for _, e := range errs {
		fmt.Fprintf(&b, "- %s: %s\n", checks.CodeCell(fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)), checks.Escape(e.Message))
		if e.File != config.RepoConfigPath {
			continue // not a file of this repository (the owner's default): no annotation
		}
		line := max(e.Line, 1)
		a := checks.Annotation{Path: e.File, StartLine: line, EndLine: line, Level: checks.Failure,
			Title: fmt.Sprintf("line %d, column %d", line, max(e.Column, 1)), Message: e.Message}
		if e.Column > 0 {
			a.StartColumn, a.EndColumn = e.Column, e.Column
		}
		out.Annotations = append(out.Annotations, a)
	}
	b.WriteString("\nCheck the file before pushing with `hoist config validate " + config.RepoConfigPath + "`.\n")
	out.Summary = b.String()
	return out
}
