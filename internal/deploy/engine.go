package deploy

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/hoist-dev/hoist/internal/site"
)

// DefaultConcurrency is how many objects a deploy writes at once.
const DefaultConcurrency = 32

// Request is one deploy of a tree to an edition prefix of a target.
type Request struct {
	Tree site.Tree
	// TreeSHA is git's id of the tree (site.Mirror.TreeSHA); when it
	// equals the manifest's, the deploy ends after reading the manifest.
	// Empty for a local folder.
	TreeSHA string
	// Prefix is the edition's folder in the target ("production/"); empty
	// for the whole bucket.
	Prefix string
	// Edition names the environment; its surrogate key is EditionKey(Edition).
	Edition string
	// CopyFrom is the prefix of another edition on the same target (for a
	// promotion, staging's): objects it holds with the same blob are copied
	// server-side instead of uploaded.
	CopyFrom string
	// Rules set headers by path; nil uses the defaults.
	Rules       *Rules
	Concurrency int
	// DryRun plans and reports without writing anything.
	DryRun bool
	// Throttle pauses before each write, to spread load on a busy store.
	Throttle time.Duration
	// SkipBrokenLinks publishes a tree whose symbolic links leave the
	// site, dangle or loop without them (Result.SkippedLinks lists them);
	// by default such a tree is refused whole, so that a site is never
	// published with pages missing unnoticed.
	SkipBrokenLinks bool

	// state is the edition's manifest and pending list, when the caller
	// started reading them before the tree was ready (Sync does, while it
	// walks the folder); nil reads them here.
	state *editionState
}

// editionState is the manifest of an edition prefix and the pending list a
// crashed deploy left there, read together.
type editionState struct {
	done     chan struct{}
	prefix   string
	manifest *Manifest
	pending  []byte // the pending list as stored; nil when there is none
	err      error
}

// startReadState starts reading the manifest and the pending list of
// prefix, both at once.
func startReadState(ctx context.Context, t Target, prefix string) *editionState {
	st := &editionState{done: make(chan struct{}), prefix: prefix}
	go func() {
		defer close(st.done)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) { st.manifest, err = ReadManifest(gctx, t, prefix); return })
		g.Go(func() error {
			_, err := readDecoded(gctx, t, prefix+PendingName, func(data []byte) error {
				st.pending = data
				return nil
			})
			return err
		})
		st.err = g.Wait()
	}()
	return st
}

// wait returns the manifest and the paths a crashed deploy may have
// touched: those of a pending list that the manifest does not close.
func (st *editionState) wait() (*Manifest, []string, error) {
	<-st.done
	if st.err != nil || st.pending == nil {
		return st.manifest, nil, st.err
	}
	// Every deploy that writes leaves its list behind; the list of the
	// deploy the manifest records is closed. Its id comes first, so that
	// a closed list of thousands of paths is not decoded.
	if st.manifest != nil && st.manifest.DeployID != "" && pendingID(st.pending) == st.manifest.DeployID {
		return st.manifest, nil, nil
	}
	var pending pendingFile
	if err := json.Unmarshal(st.pending, &pending); err != nil {
		return nil, nil, fmt.Errorf("read %s%s: not valid JSON: %w", st.prefix, PendingName, err)
	}
	if st.manifest != nil && pending.DeployID == st.manifest.DeployID {
		return st.manifest, nil, nil
	}
	return st.manifest, pending.Paths, nil
}

// pendingID returns the deploy_id of a pending list when it is the
// object's first member, as hoist writes it, else "".
func pendingID(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	if k, err := dec.Token(); err != nil || k != "deploy_id" {
		return ""
	}
	if v, err := dec.Token(); err == nil {
		if id, ok := v.(string); ok {
			return id
		}
	}
	return ""
}

// Result is what a deploy did, for the check run, the deployment status
// and the CDN purge.
type Result struct {
	Target     string `json:"target"`
	Prefix     string `json:"prefix"`
	Edition    string `json:"edition"`
	EditionKey string `json:"edition_key"`
	Commit     string `json:"commit,omitempty"`
	Tree       string `json:"tree,omitempty"`
	// DeployID names the manifest this deploy wrote (empty when nothing
	// changed): purges use it to be idempotent per deploy.
	DeployID string `json:"deploy_id,omitempty"`
	// PreviousCommit is the commit the manifest recorded before.
	PreviousCommit string `json:"previous_commit,omitempty"`
	// SameTree: the edition already held this tree; nothing was written.
	SameTree bool `json:"same_tree"`
	// NoManifest: the prefix had no manifest (first deploy, or lost), so
	// existing objects were compared by listing.
	NoManifest bool `json:"no_manifest"`
	DryRun     bool `json:"dry_run"`

	Changes   ChangeSet `json:"changes"`
	Uploaded  int       `json:"uploaded"`
	Copied    int       `json:"copied"`
	Deleted   int       `json:"deleted"`
	Unchanged int       `json:"unchanged"`
	Bytes     int64     `json:"bytes"`
	// Requests is the number of storage requests the deploy made.
	Requests int           `json:"requests"`
	Duration time.Duration `json:"duration_ns"`
	// SkippedLinks are the symbolic links left out (Request.SkipBrokenLinks).
	SkippedLinks []BrokenLink `json:"skipped_links,omitempty"`
	// PurgedPending counts the paths `hoist sync` purged that an earlier
	// sync had left unpurged.
	PurgedPending int `json:"purged_pending,omitempty"`
}

// Changed reports whether the deploy changed what the edition serves.
func (r *Result) Changed() bool { return r.Changes.Len() > 0 }

// Deploy writes the difference between what the prefix holds and the tree.
// Unsafe trees are refused before anything is written. Order: assets, then
// pages deepest first, the root index.html last, then deletions, then the
// manifest. A crash leaves the old manifest and a pending list, and the
// next deploy converges.
func Deploy(ctx context.Context, target Target, req Request) (*Result, error) {
	start := time.Now()
	if req.Tree == nil {
		return nil, errors.New("deploy: no tree")
	}
	prefix, err := cleanPrefix(req.Prefix)
	if err != nil {
		return nil, err
	}
	entries := req.Tree.Entries()
	var skipped []BrokenLink
	if req.SkipBrokenLinks {
		entries, skipped = skipBrokenLinks(entries)
	}
	if err := Validate(entries); err != nil {
		return nil, fmt.Errorf("deploy %s to %s/%s: %w", short(req.Tree.Commit()), target, prefix, err)
	}
	ct, ok := target.(*countingTarget)
	if !ok {
		ct = &countingTarget{Target: target}
	}
	res := &Result{
		Target: target.String(), Prefix: prefix, Edition: req.Edition, EditionKey: EditionKey(req.Edition),
		Commit: req.Tree.Commit(), Tree: req.TreeSHA, DryRun: req.DryRun, SkippedLinks: skipped,
	}
	defer func() { res.Requests = int(ct.n.Load()); res.Duration = time.Since(start) }()
	log := zerolog.Ctx(ctx).With().Str("env", req.Edition).Str("sha", res.Commit).Str("prefix", prefix).Logger()
	for _, b := range skipped {
		log.Warn().Str("path", b.Path).Str("link", b.Link).Str("reason", b.Reason).Msg("deploy: skipping a broken symbolic link")
	}

	st := req.state
	if st == nil {
		st = startReadState(ctx, ct, prefix)
	}
	manifest, dirty, err := st.wait()
	if err != nil {
		return res, fmt.Errorf("deploy to %s/%s: %w", target, prefix, err)
	}
	if manifest != nil {
		res.PreviousCommit = manifest.Commit
		if req.TreeSHA != "" && manifest.Tree == req.TreeSHA && len(dirty) == 0 {
			res.SameTree = true
			res.Unchanged = len(entries)
			res.Changes.Unchanged = len(entries)
			log.Info().Msg("deploy: same tree, nothing to write")
			return res, nil
		}
	}

	var cs ChangeSet
	if manifest == nil {
		res.NoManifest = true
		if cs, err = diffListing(ctx, ct, req.Tree, entries, prefix); err != nil {
			return res, fmt.Errorf("deploy to %s/%s: %w", target, prefix, err)
		}
	} else {
		cs = Diff(manifest, entries)
		cs = markDirty(cs, dirty, entries, manifest)
		cs = headerChanges(cs, manifest, entries, req.Rules)
	}
	for _, list := range [][]Change{cs.Added, cs.Modified, cs.Deleted} {
		for i := range list {
			if list[i].Keys == nil {
				list[i].Keys = []string{res.EditionKey, PathKey(req.Edition, list[i].Path)}
			}
		}
	}
	res.Changes = cs
	res.Unchanged = cs.Unchanged
	if cs.Len() == 0 && manifest != nil {
		// Nothing differs: leave the edition (and its manifest) untouched.
		return res, nil
	}

	var source *Manifest
	if req.CopyFrom != "" {
		src, err := cleanPrefix(req.CopyFrom)
		if err != nil {
			return res, err
		}
		if source, err = ReadManifest(ctx, ct, src); err != nil {
			return res, fmt.Errorf("deploy: source edition %s: %w", src, err)
		}
		req.CopyFrom = src
	}

	next := &Manifest{
		Version: ManifestVersion, Edition: req.Edition, Commit: res.Commit, Tree: req.TreeSHA,
		DeployID: newDeployID(), Files: make(map[string]ManifestFile, len(entries)),
	}
	res.DeployID = next.DeployID
	for _, e := range entries {
		ctype, cache := req.Rules.Headers(e.Path)
		// Keys nil: the default pair, computed where an object is written.
		next.Files[e.Path] = ManifestFile{Blob: e.BlobSHA, Size: e.Size, ContentType: ctype, CacheControl: cache}
	}

	if req.DryRun {
		for _, c := range append(cs.Added, cs.Modified...) {
			if source != nil && source.Files[c.Path].Blob == c.Blob {
				res.Copied++
			} else {
				res.Uploaded++
				res.Bytes += c.Size
			}
		}
		res.Deleted = len(cs.Deleted)
		return res, nil
	}

	// Record what is about to change before changing it.
	pend := pendingFile{DeployID: next.DeployID, Paths: append(cs.Paths(), dirty...)}
	if err := putJSON(ctx, ct, prefix+PendingName, pend); err != nil {
		return res, fmt.Errorf("deploy to %s/%s: %w", target, prefix, err)
	}

	concurrency := req.Concurrency
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	var uploaded, copied atomic.Int64
	var bytesOut atomic.Int64
	write := func(ctx context.Context, c Change) error {
		if req.Throttle > 0 {
			select {
			case <-time.After(req.Throttle):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f := next.Files[c.Path]
		opts := PutOptions{Size: f.Size, ContentType: f.ContentType, CacheControl: f.CacheControl,
			Metadata: map[string]string{MetaGitBlob: f.Blob, MetaSurrogateKey: strings.Join(f.KeysOf(req.Edition, c.Path), " ")}}
		if source != nil && source.Files[c.Path].Blob == f.Blob {
			if err := ct.Copy(ctx, req.CopyFrom+c.Path, prefix+c.Path, opts); err == nil {
				copied.Add(1)
				return nil
			} else if !errors.Is(err, ErrNotFound) {
				log.Debug().Err(err).Str("path", c.Path).Msg("deploy: copy failed, uploading instead")
			}
		}
		body, err := req.Tree.Open(c.Path)
		if err != nil {
			return fmt.Errorf("open %s: %w", c.Path, err)
		}
		defer body.Close()
		if err := ct.Put(ctx, prefix+c.Path, body, opts); err != nil {
			return err
		}
		uploaded.Add(1)
		bytesOut.Add(f.Size)
		return nil
	}
	for _, phase := range writePhases(append(append([]Change{}, cs.Added...), cs.Modified...)) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(concurrency)
		for _, c := range phase {
			g.Go(func() error { return write(gctx, c) })
		}
		if err := g.Wait(); err != nil {
			res.Uploaded, res.Copied, res.Bytes = int(uploaded.Load()), int(copied.Load()), bytesOut.Load()
			return res, fmt.Errorf("deploy %s to %s/%s: %w", short(res.Commit), target, prefix, err)
		}
	}
	res.Uploaded, res.Copied, res.Bytes = int(uploaded.Load()), int(copied.Load()), bytesOut.Load()

	if len(cs.Deleted) > 0 {
		keys := make([]string, len(cs.Deleted))
		for i, c := range cs.Deleted {
			keys[i] = prefix + c.Path
		}
		if _, err := ct.Delete(ctx, keys); err != nil {
			return res, fmt.Errorf("deploy %s to %s/%s: %w", short(res.Commit), target, prefix, err)
		}
		res.Deleted = len(keys)
	}
	if err := putJSON(ctx, ct, prefix+ManifestName, next); err != nil {
		return res, fmt.Errorf("deploy %s to %s/%s: commit manifest: %w", short(res.Commit), target, prefix, err)
	}
	log.Info().Int("uploaded", res.Uploaded).Int("copied", res.Copied).Int("deleted", res.Deleted).
		Int("unchanged", res.Unchanged).Msg("deploy: done")
	return res, nil
}

// writePhases orders writes so that no visitor sees a page before what it
// needs: every asset first, then pages by depth (deepest first), the root
// index.html alone at the end. Writes within a phase run in parallel; a
// phase starts when the previous one has finished.
func writePhases(changes []Change) [][]Change {
	var assets, root []Change
	pages := map[int][]Change{}
	for _, c := range changes {
		switch {
		case c.Path == "index.html" || c.Path == "index.htm":
			root = append(root, c)
		case IsHTML(c.Path):
			d := strings.Count(c.Path, "/")
			pages[d] = append(pages[d], c)
		default:
			assets = append(assets, c)
		}
	}
	var phases [][]Change
	if len(assets) > 0 {
		phases = append(phases, assets)
	}
	depths := make([]int, 0, len(pages))
	for d := range pages {
		depths = append(depths, d)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(depths)))
	for _, d := range depths {
		phases = append(phases, pages[d])
	}
	if len(root) > 0 {
		phases = append(phases, root)
	}
	return phases
}

// markDirty adds the paths a crashed deploy may have touched: rewritten when
// in the tree, removed when not.
func markDirty(cs ChangeSet, dirty []string, entries []site.Entry, m *Manifest) ChangeSet {
	if len(dirty) == 0 {
		return cs
	}
	changed := map[string]bool{}
	for _, c := range cs.All() {
		changed[c.Path] = true
	}
	byPath := make(map[string]site.Entry, len(entries))
	for _, e := range entries {
		byPath[e.Path] = e
	}
	for _, p := range dirty {
		if changed[p] || !validKeyPath(p) {
			continue
		}
		changed[p] = true
		if e, ok := byPath[p]; ok {
			cs.Modified = append(cs.Modified, Change{Path: p, Op: Modified, Blob: e.BlobSHA, OldBlob: m.Files[p].Blob, Size: e.Size})
			cs.Unchanged--
		} else {
			cs.Deleted = append(cs.Deleted, Change{Path: p, Op: Deleted})
		}
	}
	return cs
}

func validKeyPath(p string) bool {
	return Validate([]site.Entry{{Path: p, Mode: 0o644}}) == nil
}

// headerChanges rewrites unchanged files whose headers the rules now set
// differently, so that a rule change reaches the store.
func headerChanges(cs ChangeSet, m *Manifest, entries []site.Entry, rules *Rules) ChangeSet {
	changed := map[string]bool{}
	for _, c := range cs.All() {
		changed[c.Path] = true
	}
	for _, e := range entries {
		old, ok := m.Files[e.Path]
		if !ok || changed[e.Path] {
			continue
		}
		ctype, cache := rules.Headers(e.Path)
		if old.ContentType != ctype || old.CacheControl != cache {
			cs.Modified = append(cs.Modified, Change{Path: e.Path, Op: Modified, Blob: e.BlobSHA, OldBlob: old.Blob, Size: e.Size})
			cs.Unchanged--
		}
	}
	return cs
}

// diffListing compares a prefix without a manifest to the tree. Content
// is compared as cheaply as the facts allow: a git blob the listing knows;
// a single-part ETag, which is the MD5 of the content, against the MD5 of
// the git blob; otherwise the x-amz-meta-git-blob a hoist upload wrote,
// read with HEAD. Anything else is treated as changed.
func diffListing(ctx context.Context, t Target, tree site.Tree, entries []site.Entry, prefix string) (ChangeSet, error) {
	var objs []Object
	foreign := map[string]bool{} // sub-prefixes holding another edition
	err := t.List(ctx, prefix, func(page []Object) error {
		for _, o := range page {
			rel := strings.TrimPrefix(o.Key, prefix)
			if rel == ManifestName || rel == PendingName {
				continue
			}
			if strings.HasSuffix(rel, "/"+ManifestName) {
				foreign[strings.TrimSuffix(rel, ManifestName)] = true
				continue
			}
			if strings.HasPrefix(rel, ".hoist/") || strings.Contains(rel, "/.hoist/") {
				continue
			}
			o.Key = rel
			objs = append(objs, o)
		}
		return nil
	})
	if err != nil {
		return ChangeSet{}, err
	}
	listed := make(map[string]Object, len(objs))
	for _, o := range objs {
		inForeign := false
		for f := range foreign {
			if strings.HasPrefix(o.Key, f) {
				inForeign = true
				break
			}
		}
		if !inForeign {
			listed[o.Key] = o
		}
	}

	var cs ChangeSet
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(DefaultConcurrency)
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Path] = true
		o, ok := listed[e.Path]
		if !ok {
			cs.Added = append(cs.Added, Change{Path: e.Path, Op: Added, Blob: e.BlobSHA, Size: e.Size})
			continue
		}
		g.Go(func() error {
			same, err := sameContent(gctx, t, tree, prefix, e, o)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if same {
				cs.Unchanged++
			} else {
				cs.Modified = append(cs.Modified, Change{Path: e.Path, Op: Modified, Blob: e.BlobSHA, Size: e.Size})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ChangeSet{}, err
	}
	for p, o := range listed {
		if !seen[p] && validKeyPath(p) {
			cs.Deleted = append(cs.Deleted, Change{Path: p, Op: Deleted, Size: o.Size})
		}
	}
	sort.Slice(cs.Modified, func(i, j int) bool { return cs.Modified[i].Path < cs.Modified[j].Path })
	sort.Slice(cs.Deleted, func(i, j int) bool { return cs.Deleted[i].Path < cs.Deleted[j].Path })
	return cs, nil
}

func sameContent(ctx context.Context, t Target, tree site.Tree, prefix string, e site.Entry, o Object) (bool, error) {
	if o.Size != e.Size {
		return false, nil
	}
	if o.GitBlob != "" {
		return o.GitBlob == e.BlobSHA, nil
	}
	if len(o.ETag) == 32 && isHex(strings.ToLower(o.ETag)) {
		sum, err := md5Of(tree, e.Path)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(sum, o.ETag) {
			return true, nil
		}
	}
	// A multipart or SSE-KMS ETag says nothing about the content; the
	// blob SHA hoist stores in the metadata does.
	meta, err := t.Head(ctx, prefix+e.Path)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return meta.Metadata[MetaGitBlob] == e.BlobSHA, nil
}

func md5Of(tree site.Tree, p string) (string, error) {
	r, err := tree.Open(p)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", p, err)
	}
	defer r.Close()
	h := md5.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func putJSON(ctx context.Context, t Target, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.Put(ctx, key, bytes.NewReader(data), PutOptions{
		Size: int64(len(data)), ContentType: "application/json", CacheControl: "no-store",
	})
}

// cleanPrefix accepts "", "a/" or "a/b" (a slash is added) and refuses
// anything that is not a clean relative folder.
func cleanPrefix(p string) (string, error) {
	if p == "" || p == "/" {
		return "", nil
	}
	trimmed := strings.TrimSuffix(p, "/")
	if !validKeyPath(trimmed) || path.Clean(trimmed) != trimmed {
		return "", fmt.Errorf("prefix %q: must be a relative folder like \"production/\"", p)
	}
	return trimmed + "/", nil
}

func newDeployID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "folder"
	}
	return sha
}

// countingTarget counts the requests a deploy makes.
type countingTarget struct {
	Target
	n atomic.Int64
}

func (c *countingTarget) Put(ctx context.Context, key string, body io.Reader, o PutOptions) error {
	c.n.Add(1)
	return c.Target.Put(ctx, key, body, o)
}

func (c *countingTarget) Copy(ctx context.Context, src, dst string, o PutOptions) error {
	c.n.Add(1)
	return c.Target.Copy(ctx, src, dst, o)
}

func (c *countingTarget) Delete(ctx context.Context, keys []string) (int, error) {
	n, err := c.Target.Delete(ctx, keys)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingTarget) List(ctx context.Context, prefix string, fn func([]Object) error) error {
	return c.Target.List(ctx, prefix, func(page []Object) error {
		c.n.Add(1)
		return fn(page)
	})
}

func (c *countingTarget) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.n.Add(1)
	return c.Target.Get(ctx, key)
}

func (c *countingTarget) Head(ctx context.Context, key string) (ObjectMeta, error) {
	c.n.Add(1)
	return c.Target.Head(ctx, key)
}
