package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/purge"
)

// Folder is a place a repository's site is published to beside its
// environments: the edition of a branch or pull request. Its files go to
// Prefix of Target, inside the repository's own folder there, and are
// purged under URL's path on the CDNs of Purge.
type Folder struct {
	// Name keys the folder's surrogate keys, leases and pending purges,
	// such as edition/feature-a.
	Name string
	// Branch is fetched to find the commit (a pull request's head branch).
	Branch string
	Target string
	// Prefix is relative to the repository's folder of Target.
	Prefix string
	URL    string
	Purge  []config.RepoPurge
}

func (f Folder) env() pipeline.Environment {
	return pipeline.Environment{Name: f.Name, Branch: f.Branch, URL: f.URL,
		Deploy: config.RepoDeploy{Target: f.Target, Prefix: f.Prefix, URL: f.URL}, Purge: f.Purge}
}

// FolderResult is what a deploy or a removal of a folder did.
type FolderResult struct {
	// Prefix is the folder's whole prefix on the target.
	Prefix string
	// PublicURL is the target's public URL for the folder, when the
	// server config gives the target one.
	PublicURL string
	Written   int
	Deleted   int
	// PurgeRequests counts the purge requests sent.
	PurgeRequests int
	Summary       string
}

// DeployFolder publishes sha's site to the folder, writing only what
// changed since its last deploy (objects another folder of the same
// target holds with the same content are copied from copyFrom, relative
// as Prefix), and purges what changed under the folder's URL.
func (s *Publisher) DeployFolder(ctx context.Context, repo *gh.Repo, installation int64, p *pipeline.Pipeline, f Folder, sha, copyFrom string) (FolderResult, error) {
	full := repo.FullName()
	env := f.env()
	var out FolderResult
	target, tc, prefix, err := s.target(ctx, full, env)
	if err != nil {
		return out, fmt.Errorf("%s: %w", f.Name, err)
	}
	out.Prefix = prefix
	if tc.PublicURL != "" {
		out.PublicURL = joinURL(tc.PublicURL, prefix)
	}
	cdns, extra, err := s.cdnsFor(ctx, full, env)
	if err != nil {
		return out, fmt.Errorf("%s: %w", f.Name, err)
	}
	tree, treeSHA, closeMirror, err := s.siteTree(ctx, repo, installation, f.Branch, sha, p.SiteRoot)
	if err != nil {
		return out, err
	}
	defer closeMirror()
	rules, err := deploy.RulesFromConfig(p.Publish.Cache)
	if err != nil {
		return out, permanent("%s: %v", config.RepoConfigPath, err)
	}
	req := deploy.Request{Tree: tree, TreeSHA: treeSHA, Prefix: prefix, Edition: serverconfig.Edition(full, f.Name),
		Rules: rules, SkipBrokenLinks: p.Publish.SkipBrokenLinks}
	if copyFrom != "" {
		if _, src, err := s.cfg.DeployTarget(f.Target, full, copyFrom); err == nil && src != prefix {
			req.CopyFrom = src
		}
	}
	res, err := deploy.Deploy(ctx, target, req)
	if res != nil {
		out.Written, out.Deleted = res.Uploaded+res.Copied, res.Deleted
	}
	if err != nil {
		var hostile *deploy.UnsafeEntryError
		if errors.As(err, &hostile) {
			return out, permanentDeployError{hostile}
		}
		return out, err
	}
	sum := &publishSummary{result: res}
	if len(cdns) > 0 {
		a := PublishArgs{Owner: repo.Owner, Repo: repo.Name, Env: f.Name, SHA: sha}
		if err := s.purgeAfterDeploy(ctx, a, res, f.URL, cdns, extra, sum); err != nil {
			return out, err
		}
		if sum.purger != nil {
			out.PurgeRequests = sum.purger.Requests()
		}
	}
	out.Summary = oneLine(res, sum.purger)
	return out, nil
}

// RemoveFolder deletes every object under the folder's whole prefix
// (as FolderPrefix returned it, perhaps when the configuration was
// another) and purges the folder whole on the CDNs of f.Purge. The prefix
// must lie strictly inside the repository's folder of the target: never
// the repository's whole folder, never another repository's.
func (s *Publisher) RemoveFolder(ctx context.Context, repo *gh.Repo, f Folder, prefix string) (FolderResult, error) {
	full := repo.FullName()
	out := FolderResult{Prefix: prefix}
	if s.cfg == nil {
		return out, errors.New("the server has no configuration for deploy targets")
	}
	base, err := s.cfg.RepoPrefix(f.Target, full)
	if err != nil {
		return out, permanentDeployError{err}
	}
	if msg := config.CheckRelPrefix(strings.TrimPrefix(prefix, base)); !strings.HasPrefix(prefix, base) || prefix == base ||
		!strings.HasSuffix(prefix, "/") || msg != "" {
		zerolog.Ctx(ctx).Warn().Str("repo", full).Str("prefix", prefix).Str("audit", "removal refused").Msg("folder to remove is not inside the repository's folder")
		return out, permanent("%s: %q is not a folder inside %s's folder %q of target %s", f.Name, prefix, full, base, f.Target)
	}
	target, _, err := s.OpenTarget(ctx, f.Target)
	if err != nil {
		return out, err
	}
	var keys []string
	err = target.List(ctx, prefix, func(page []deploy.Object) error {
		for _, o := range page {
			keys = append(keys, o.Key)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("list %s: %w", prefix, err)
	}
	if len(keys) > 0 {
		if _, err := target.Delete(ctx, keys); err != nil {
			return out, fmt.Errorf("delete %s: %w", prefix, err)
		}
	}
	out.Deleted = len(keys)
	if len(f.Purge) == 0 {
		out.Summary = fmt.Sprintf("%d files deleted", len(keys))
		return out, nil
	}
	env := f.env()
	cdns, _, err := s.cdnsFor(ctx, full, env)
	if err != nil {
		return out, err
	}
	edition := serverconfig.Edition(full, f.Name)
	req := purge.Request{Edition: edition, EditionKey: deploy.EditionKey(edition), All: true,
		Prefix: purge.PrefixOf(f.URL, prefix)}
	purger := &purge.DeployPurger{CDNs: cdns, Options: s.purgeOptions}
	perr := purger.Run(ctx, req)
	out.PurgeRequests = purger.Requests()
	out.Summary = fmt.Sprintf("%d files deleted, %d purge requests", len(keys), out.PurgeRequests)
	if perr != nil {
		return out, fmt.Errorf("removed, but the purge failed: %w", perr)
	}
	return out, nil
}

// IsPermanent reports whether err is a problem of configuration that no
// retry of a folder's deploy or removal fixes.
func IsPermanent(err error) bool {
	var perm permanentDeployError
	return errors.As(err, &perm)
}
