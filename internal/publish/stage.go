package publish

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/site"
)

// A fleet instance's stage is a site at a release commit plus files that
// are no commit's (its settings file): they are deployed, tested and
// rewritten by hoist without a commit. These helpers give the fleet the
// same targets, tenancy checks and headers as every other deploy.

// ExtraFile is a file deployed with a site that no commit holds.
type ExtraFile struct {
	Path string // from the site root, without a leading /
	Body []byte
}

// StageTree returns the site of sha under root, fetched into the
// repository's mirror, with extra files laid over it, and an id of the
// whole (the git tree and the extra files) for the deploy's same-tree
// check. close releases the mirror.
func (s *Publisher) StageTree(ctx context.Context, repo *gh.Repo, installation int64, branch, sha, root string, extra []ExtraFile) (tree site.Tree, id string, close func(), err error) {
	base, treeSHA, closeMirror, err := s.siteTree(ctx, repo, installation, branch, sha, root)
	if err != nil {
		return nil, "", nil, err
	}
	t := &overlayTree{Tree: base, files: map[string][]byte{}}
	h := sha256.New()
	for _, f := range extra {
		t.files[f.Path] = f.Body
		fmt.Fprintf(h, "%s\x00%x\x00", f.Path, sha1.Sum(f.Body))
	}
	entries := make([]site.Entry, 0, len(base.Entries())+len(extra))
	for _, e := range base.Entries() {
		if _, over := t.files[e.Path]; !over {
			entries = append(entries, e)
		}
	}
	for _, f := range extra {
		entries = append(entries, site.Entry{Path: f.Path, BlobSHA: GitBlobSHA(f.Body), Size: int64(len(f.Body)), Mode: 0o644})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	t.entries = entries
	if treeSHA != "" && len(extra) > 0 {
		treeSHA += "+" + hex.EncodeToString(h.Sum(nil))[:16]
	}
	return t, treeSHA, closeMirror, nil
}

// GitBlobSHA is git's id of a blob with content b, so that an extra file
// is compared with what a prefix holds exactly as a committed one is.
func GitBlobSHA(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// overlayTree is a site tree with files replaced or added.
type overlayTree struct {
	site.Tree
	files   map[string][]byte
	entries []site.Entry
}

func (t *overlayTree) Entries() []site.Entry { return t.entries }

func (t *overlayTree) Open(p string) (io.ReadCloser, error) {
	if b, ok := t.files[strings.TrimPrefix(p, "/")]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	if b, ok := t.files[p]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return t.Tree.Open(p)
}

var _ site.Tree = (*overlayTree)(nil)

// DeployStage deploys tree to the target and prefix of env (a fleet stage
// as an environment: its branch as name, its folder as prefix), with the
// repository's headers. It goes through the same tenancy check as an
// environment's deploy: the target must be open to the repository and the
// prefix stays inside the repository's folder.
func (s *Publisher) DeployStage(ctx context.Context, full string, env pipeline.Environment, tree site.Tree, treeID string, pub config.RepoPublish) (*deploy.Result, error) {
	target, _, prefix, err := s.target(ctx, full, env)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", env.Name, err)
	}
	rules, err := deploy.RulesFromConfig(pub.Cache)
	if err != nil {
		return nil, permanent("%s: %v", config.RepoConfigPath, err)
	}
	res, err := deploy.Deploy(ctx, target, deploy.Request{Tree: tree, TreeSHA: treeID, Prefix: prefix,
		Edition: serverconfig.Edition(full, env.Name), Rules: rules, SkipBrokenLinks: pub.SkipBrokenLinks})
	if err != nil {
		return res, fmt.Errorf("deploy stage %s: %w", env.Name, err)
	}
	if len(env.Purge) > 0 {
		// What changed is purged as an environment's deploy purges it: an
		// upgraded stage behind a cache would go on serving the release
		// it replaced. A purge that fails is kept and sent with the next
		// deploy of the stage.
		cdns, extra, err := s.cdnsFor(ctx, full, env)
		if err != nil {
			return res, fmt.Errorf("stage %s: %w", env.Name, err)
		}
		owner, name, _ := strings.Cut(full, "/")
		if err := s.purgeAfterDeploy(ctx, PublishArgs{Owner: owner, Repo: name, Env: env.Name}, res, env.URL, cdns, extra, &publishSummary{}); err != nil {
			return res, fmt.Errorf("stage %s: %w", env.Name, err)
		}
	}
	return res, nil
}

// PutStageFile writes one file into env's folder: one object, with the
// repository's headers and the surrogate keys a deploy gives it, and
// nothing else (no manifest: the next deploy finds the same blob and
// leaves it).
func (s *Publisher) PutStageFile(ctx context.Context, full string, env pipeline.Environment, path string, body []byte, pub config.RepoPublish) error {
	target, _, prefix, err := s.target(ctx, full, env)
	if err != nil {
		return fmt.Errorf("stage %s: %w", env.Name, err)
	}
	rules, err := deploy.RulesFromConfig(pub.Cache)
	if err != nil {
		return permanent("%s: %v", config.RepoConfigPath, err)
	}
	ct, cc := rules.Headers(path)
	edition := serverconfig.Edition(full, env.Name)
	f := deploy.ManifestFile{}
	opts := deploy.PutOptions{Size: int64(len(body)), ContentType: ct, CacheControl: cc,
		Metadata: map[string]string{deploy.MetaGitBlob: GitBlobSHA(body), deploy.MetaSurrogateKey: strings.Join(f.KeysOf(edition, path), " ")}}
	if err := target.Put(ctx, prefix+path, bytes.NewReader(body), opts); err != nil {
		return fmt.Errorf("write %s of stage %s: %w", path, env.Name, err)
	}
	return nil
}

// ReadStageFile reads one file of env's folder, or fs.ErrNotExist.
func (s *Publisher) ReadStageFile(ctx context.Context, full string, env pipeline.Environment, path string) ([]byte, error) {
	target, _, prefix, err := s.target(ctx, full, env)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", env.Name, err)
	}
	r, err := target.Get(ctx, prefix+path)
	if err != nil {
		if err == deploy.ErrNotFound {
			return nil, fs.ErrNotExist
		}
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// DeleteStage removes every object of env's folder (a deleted fleet
// instance's, once its grace period ended) and returns how many.
func (s *Publisher) DeleteStage(ctx context.Context, full string, env pipeline.Environment) (int, error) {
	target, _, prefix, err := s.target(ctx, full, env)
	if err != nil {
		return 0, fmt.Errorf("stage %s: %w", env.Name, err)
	}
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return 0, fmt.Errorf("stage %s: refusing to delete prefix %q", env.Name, prefix)
	}
	var keys []string
	if err := target.List(ctx, prefix, func(page []deploy.Object) error {
		for _, o := range page {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("list stage %s: %w", env.Name, err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if _, err := target.Delete(ctx, keys); err != nil {
		return 0, fmt.Errorf("delete stage %s: %w", env.Name, err)
	}
	return len(keys), nil
}
