package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
)

// repoRef is a repository of one of the App's installations.
type repoRef struct {
	Installation  int64
	FullName      string
	Owner, Name   string
	DefaultBranch string
	HTMLURL       string
}

func (r repoRef) key() string {
	return fmt.Sprintf("%d/%s", r.Installation, strings.ToLower(r.FullName))
}

// maxThumbnails bounds the screenshots shown per smoke run.
const maxThumbnails = 6

// listRepos lists the repositories of every installation of the App, by
// name (cached for the TTL).
func (d *Dashboard) listRepos(ctx context.Context, cc githubapp.ClientCreator) ([]repoRef, error) {
	return d.repos.get(ctx, "all", func(ctx context.Context) ([]repoRef, error) {
		app, err := cc.NewAppClient()
		if err != nil {
			return nil, fmt.Errorf("app client: %w", err)
		}
		var out []repoRef
		opt := &github.ListOptions{PerPage: 100}
		for {
			insts, resp, err := app.Apps.ListInstallations(ctx, opt)
			if err != nil {
				return nil, fmt.Errorf("list installations: %w", err)
			}
			for _, in := range insts {
				refs, err := installationRepos(ctx, cc, in.GetID())
				if err != nil {
					return nil, err
				}
				out = append(out, refs...)
			}
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
		sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].FullName) < strings.ToLower(out[j].FullName) })
		return out, nil
	})
}

func installationRepos(ctx context.Context, cc githubapp.ClientCreator, id int64) ([]repoRef, error) {
	c, err := cc.NewInstallationClient(id)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", id, err)
	}
	var out []repoRef
	opt := &github.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.Apps.ListRepos(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("repositories of installation %d: %w", id, err)
		}
		for _, r := range list.Repositories {
			out = append(out, repoRef{Installation: id, FullName: r.GetFullName(), Owner: r.GetOwner().GetLogin(),
				Name: r.GetName(), DefaultBranch: r.GetDefaultBranch(), HTMLURL: r.GetHTMLURL()})
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return out, nil
}

// appSlug is the App's slug, to tell its hoist/smoke runs from another
// app's run of the same name. "" when it cannot be read.
func (d *Dashboard) appSlug(ctx context.Context, cc githubapp.ClientCreator) string {
	slug, err := d.app.get(ctx, "app", func(ctx context.Context) (string, error) {
		c, err := cc.NewAppClient()
		if err != nil {
			return "", err
		}
		return gh.AppSlug(ctx, c)
	})
	if err != nil {
		return ""
	}
	return slug
}

// readRepo reads a repository's state from GitHub: its configuration
// (nil, nil when it has none), then every environment in parallel.
func (d *Dashboard) readRepo(ctx context.Context, cc githubapp.ClientCreator, ref repoRef) (*RepoView, error) {
	c, err := cc.NewInstallationClient(ref.Installation)
	if err != nil {
		return nil, fmt.Errorf("client for installation %d: %w", ref.Installation, err)
	}
	repo := gh.NewRepo(c, ref.Owner, ref.Name)
	v := &RepoView{FullName: ref.FullName, HTMLURL: ref.HTMLURL, ReadAt: d.opts.Now()}
	cfg, broken, err := d.configs.InForce(ctx, repo, ref.DefaultBranch)
	if errors.Is(err, gh.ErrNoConfig) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if broken != nil {
		v.ConfigError = broken.Error()
		v.LastGood = cfg != nil
	}
	if cfg == nil {
		return v, nil
	}
	p := pipeline.New(cfg)
	slug := d.appSlug(ctx, cc)
	v.Envs = make([]EnvView, len(p.Environments))
	var wg sync.WaitGroup
	for i, e := range p.Environments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.Envs[i] = d.readEnv(ctx, repo, ref, p, e, slug)
		}()
	}
	wg.Wait()
	return v, nil
}

func (d *Dashboard) readEnv(ctx context.Context, repo *gh.Repo, ref repoRef, p *pipeline.Pipeline, e pipeline.Environment, slug string) EnvView {
	v := EnvView{Name: e.Name, Branch: e.Branch, BranchURL: treeURL(ref.HTMLURL, e.Branch), PromoteFrom: e.PromoteFrom, URL: e.URL, budget: e.Budget}
	var errs []string
	head, err := branchHead(ctx, repo, e.Branch)
	if err != nil {
		errs = append(errs, err.Error())
	}
	v.Head = head
	var wg sync.WaitGroup
	wg.Add(2)
	var depErr, smokeErr error
	go func() {
		defer wg.Done()
		v.Deployment, depErr = lastDeployment(ctx, repo, ref, e.Name)
	}()
	go func() {
		defer wg.Done()
		if head != nil {
			v.Smoke, smokeErr = d.lastSmoke(ctx, repo, head.SHA, slug)
		}
	}()
	for _, c := range p.Candidates {
		if c.Env != e.Name {
			continue
		}
		cv := CandidateView{Branch: c.Branch, BranchURL: treeURL(ref.HTMLURL, c.Branch)}
		ch, err := branchHead(ctx, repo, c.Branch)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if ch != nil {
			cv.Head = ch
			cv.Pending = head == nil || ch.SHA != head.SHA
			if cv.Pending {
				cv.Smoke, err = d.lastSmoke(ctx, repo, ch.SHA, slug)
				if err != nil {
					errs = append(errs, err.Error())
				}
			}
		}
		v.Candidates = append(v.Candidates, cv)
	}
	wg.Wait()
	for _, err := range []error{depErr, smokeErr} {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	v.Error = strings.Join(errs, "; ")
	return v
}

// branchHead reads a branch's head commit; nil without error when the
// branch does not exist (yet).
func branchHead(ctx context.Context, repo *gh.Repo, branch string) (*CommitView, error) {
	b, resp, err := repo.Client.Repositories.GetBranch(ctx, repo.Owner, repo.Name, branch, 0)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("branch %s: %w", branch, err)
	}
	c := b.GetCommit()
	subject, _, _ := strings.Cut(c.GetCommit().GetMessage(), "\n")
	author := c.GetAuthor().GetLogin()
	if author == "" {
		author = c.GetCommit().GetAuthor().GetName()
	}
	return &CommitView{SHA: c.GetSHA(), Short: short(c.GetSHA()), Subject: subject, Author: author,
		URL: c.GetHTMLURL(), At: c.GetCommit().GetCommitter().GetDate().Time}, nil
}

// lastDeployment reads the newest deployment of env and its newest status.
func lastDeployment(ctx context.Context, repo *gh.Repo, ref repoRef, env string) (*DeploymentView, error) {
	ds, _, err := repo.Client.Repositories.ListDeployments(ctx, repo.Owner, repo.Name,
		&github.DeploymentsListOptions{Environment: env, ListOptions: github.ListOptions{PerPage: 1}})
	if err != nil {
		return nil, fmt.Errorf("deployments of %s: %w", env, err)
	}
	if len(ds) == 0 {
		return nil, nil
	}
	dep := ds[0]
	v := &DeploymentView{ID: dep.GetID(), SHA: dep.GetSHA(), Short: short(dep.GetSHA()), State: "created",
		Description: dep.GetDescription(), At: dep.GetCreatedAt().Time}
	if ref.HTMLURL != "" {
		v.GitHubURL = ref.HTMLURL + "/deployments/" + url.PathEscape(env)
	}
	sts, _, err := repo.Client.Repositories.ListDeploymentStatuses(ctx, repo.Owner, repo.Name, dep.GetID(), &github.ListOptions{PerPage: 1})
	if err != nil {
		return v, fmt.Errorf("statuses of deployment %d: %w", dep.GetID(), err)
	}
	if len(sts) > 0 {
		st := sts[0]
		v.State, v.URL, v.LogURL = st.GetState(), st.GetEnvironmentURL(), st.GetLogURL()
		if st.GetDescription() != "" {
			v.Description = st.GetDescription()
		}
		v.At = st.GetCreatedAt().Time
	}
	return v, nil
}

// lastSmoke reads the newest hoist/smoke check run on sha, preferring the
// App's own runs (another app may post a run of the same name).
func (d *Dashboard) lastSmoke(ctx context.Context, repo *gh.Repo, sha, slug string) (*SmokeView, error) {
	res, _, err := repo.Client.Checks.ListCheckRunsForRef(ctx, repo.Owner, repo.Name, sha, &github.ListCheckRunsOptions{
		CheckName: github.String(pipeline.SmokeCheckName), Filter: github.String("all"), ListOptions: github.ListOptions{PerPage: 20}})
	if err != nil {
		return nil, fmt.Errorf("check runs of %s: %w", short(sha), err)
	}
	var best *github.CheckRun
	for _, cr := range res.CheckRuns {
		if slug != "" && cr.GetApp().GetSlug() != slug {
			continue
		}
		if best == nil || cr.GetID() > best.GetID() {
			best = cr
		}
	}
	if best == nil {
		return nil, nil
	}
	v := &SmokeView{Status: best.GetStatus(), Conclusion: best.GetConclusion(), Title: best.GetOutput().GetTitle(),
		URL: best.GetHTMLURL(), At: best.GetStartedAt().Time}
	if t := best.GetCompletedAt(); !t.IsZero() {
		v.At = t.Time
	}
	if d.opts.Images != nil {
		imgs, err := d.opts.Images.CheckRunImages(ctx, repo.FullName(), best.GetID())
		if err != nil {
			return v, fmt.Errorf("images of check run %d: %w", best.GetID(), err)
		}
		v.Images = imgs
	}
	if len(v.Images) == 0 {
		v.Images = markdownImages(best.GetOutput().GetSummary() + "\n" + best.GetOutput().GetText())
	}
	if len(v.Images) > maxThumbnails {
		v.Images = v.Images[:maxThumbnails]
	}
	return v, nil
}

var (
	mdImage   = regexp.MustCompile(`!\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"([^"\n]*)")?\s*\)`)
	htmlImage = regexp.MustCompile(`(?i)<img\s[^>]*?src\s*=\s*"([^"]+)"[^>]*>`)
	htmlAlt   = regexp.MustCompile(`(?i)\salt\s*=\s*"([^"]*)"`)
)

// markdownImages finds the images a check run's markdown embeds
// (![alt](url "title") and <img src="…" alt="…">), absolute http(s) URLs
// only, each once, in order.
func markdownImages(md string) []Image {
	var out []Image
	seen := map[string]bool{}
	add := func(alt, u, caption string) {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || seen[u] {
			return
		}
		seen[u] = true
		out = append(out, Image{Alt: alt, URL: u, Caption: caption})
	}
	type hit struct {
		at            int
		alt, u, title string
	}
	var hits []hit
	for _, m := range mdImage.FindAllStringSubmatchIndex(md, -1) {
		h := hit{at: m[0], alt: md[m[2]:m[3]], u: md[m[4]:m[5]]}
		if m[6] >= 0 {
			h.title = md[m[6]:m[7]]
		}
		hits = append(hits, h)
	}
	for _, m := range htmlImage.FindAllStringSubmatchIndex(md, -1) {
		tag := md[m[0]:m[1]]
		h := hit{at: m[0], u: md[m[2]:m[3]]}
		if a := htmlAlt.FindStringSubmatch(tag); a != nil {
			h.alt = a[1]
		}
		hits = append(hits, h)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	for _, h := range hits {
		add(h.alt, strings.ReplaceAll(h.u, "&amp;", "&"), h.title)
	}
	return out
}

func treeURL(repoURL, branch string) string {
	if repoURL == "" {
		return ""
	}
	return repoURL + "/tree/" + branch
}
