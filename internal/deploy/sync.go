package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/site"
)

// Purger purges a CDN after a deploy that changed something; the purge
// package provides implementations. Sync calls it only when r.Changed().
type Purger interface {
	Purge(ctx context.Context, r *Result) error
}

// SyncOptions are the settings of `hoist sync`.
type SyncOptions struct {
	Dir         string // local folder with the built site
	Destination string // s3://bucket/prefix, file:///path or a folder
	Endpoint    string
	PathStyle   bool
	Region      string
	Edition     string // default: the prefix's last segment, or "default"
	Concurrency int
	DryRun      bool
	Throttle    time.Duration
	Rules       *Rules
	// SkipBrokenLinks publishes the folder without the symbolic links that
	// leave it, dangle or loop, instead of refusing it.
	SkipBrokenLinks bool
	Purger          Purger
}

// ParseDestination reads a destination: s3://bucket/prefix, file:///path,
// or a plain folder. It returns the target and the edition prefix.
func ParseDestination(dest string) (TargetConfig, string, error) {
	switch {
	case strings.HasPrefix(dest, "s3://"):
		u, err := url.Parse(dest)
		if err != nil || u.Host == "" {
			return TargetConfig{}, "", fmt.Errorf("destination %q: expected s3://bucket/prefix", dest)
		}
		prefix, err := cleanPrefix(strings.TrimPrefix(u.Path, "/"))
		if err != nil {
			return TargetConfig{}, "", fmt.Errorf("destination %q: %w", dest, err)
		}
		return TargetConfig{Type: "s3", Bucket: u.Host}, prefix, nil
	case strings.HasPrefix(dest, "file://"):
		u, err := url.Parse(dest)
		if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
			return TargetConfig{}, "", fmt.Errorf("destination %q: expected file:///absolute/folder", dest)
		}
		return TargetConfig{Type: "local", Dir: filepath.FromSlash(u.Path)}, "", nil
	case strings.Contains(dest, "://"):
		return TargetConfig{}, "", fmt.Errorf("destination %q: unsupported scheme (use s3://, file:// or a folder)", dest)
	case dest == "":
		return TargetConfig{}, "", errors.New("destination is empty")
	}
	return TargetConfig{Type: "local", Dir: dest}, "", nil
}

// Sync deploys a local folder with the same engine as the server: the
// manifest in the destination decides what to write.
func Sync(ctx context.Context, o SyncOptions) (*Result, error) {
	cfg, prefix, err := ParseDestination(o.Destination)
	if err != nil {
		return nil, err
	}
	if cfg.Type == "s3" {
		cfg.Endpoint, cfg.PathStyle, cfg.Region = o.Endpoint, o.PathStyle, o.Region
	} else if o.Endpoint != "" || o.PathStyle || o.Region != "" {
		return nil, fmt.Errorf("--endpoint, --path-style and --region apply to s3:// destinations only")
	}
	if abs, err := filepath.Abs(o.Dir); err == nil && cfg.Type == "local" {
		if dst, err := filepath.Abs(cfg.Dir); err == nil && (dst == abs || strings.HasPrefix(dst, abs+string(filepath.Separator))) {
			return nil, fmt.Errorf("destination %s is inside the site folder %s", cfg.Dir, o.Dir)
		}
	}
	// The folder is walked while the target is set up and its manifest
	// read: when nothing changed, these are all a sync does.
	type walked struct {
		tree *site.DirTree
		err  error
	}
	walk := make(chan walked, 1)
	go func() {
		tree, err := site.NewDirTree(o.Dir)
		walk <- walked{tree, err}
	}()
	target, err := NewTarget(ctx, cfg)
	if err != nil {
		<-walk
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ct := &countingTarget{Target: target}
	state := startReadState(ctx, ct, prefix)
	w := <-walk
	if w.err != nil {
		return nil, w.err
	}
	tree := w.tree
	edition := o.Edition
	if edition == "" {
		edition = "default"
		if p := strings.TrimSuffix(prefix, "/"); p != "" {
			edition = p[strings.LastIndex(p, "/")+1:]
		}
	}
	res, err := Deploy(ctx, ct, Request{
		Tree: tree, Prefix: prefix, Edition: edition, Rules: o.Rules,
		Concurrency: o.Concurrency, DryRun: o.DryRun, Throttle: o.Throttle, SkipBrokenLinks: o.SkipBrokenLinks,
		state: state,
	})
	if err != nil {
		return res, err
	}
	if o.Purger != nil && !o.DryRun {
		return res, purgeWithPending(ctx, target, prefix, res, o.Purger)
	}
	return res, nil
}

// PurgePendingName is the purge a `hoist sync` could not finish: what it
// changed, kept under the edition until a purge of it succeeds, so that a
// retry purges it even when it has nothing new to write. (The server keeps
// its pending purges in its store.)
const PurgePendingName = ".hoist/purge-pending.json"

// maxPendingPurge bounds the paths a pending purge may carry; a larger
// file is not hoist's and is refused.
const maxPendingPurge = 1_000_000

type pendingPurge struct {
	Edition  string   `json:"edition"`
	Commit   string   `json:"commit,omitempty"`
	DeployID string   `json:"deploy_id,omitempty"`
	Changes  []Change `json:"changes"`
}

// purgeWithPending purges what this deploy changed together with what an
// earlier sync left unpurged. The pending record is written before the
// purge and removed only after it succeeded, so neither a failed purge nor
// a crash in the middle of one loses it.
func purgeWithPending(ctx context.Context, target Target, prefix string, res *Result, p Purger) error {
	var pend pendingPurge
	has, err := readJSON(ctx, target, prefix+PurgePendingName, &pend)
	if err != nil {
		return fmt.Errorf("deployed, but the pending purge could not be read: %w", err)
	}
	if has {
		if len(pend.Changes) > maxPendingPurge {
			return fmt.Errorf("%s%s lists %d paths, more than %d; remove it and purge everything by hand", prefix, PurgePendingName, len(pend.Changes), maxPendingPurge)
		}
		// Only paths are taken from the record, and only clean ones; the
		// keys are derived again, so a record edited in the store can ask
		// for no more than purging pages of this edition.
		pend.Changes = slices.DeleteFunc(pend.Changes, func(c Change) bool { return !validKeyPath(c.Path) })
		for i, c := range pend.Changes {
			pend.Changes[i] = Change{Path: c.Path, Op: Modified, Keys: []string{EditionKey(pend.Edition), PathKey(pend.Edition, c.Path)}}
		}
	}
	if !res.Changed() && (!has || len(pend.Changes) == 0) {
		return nil
	}
	todo := *res
	if has {
		// Paths of this deploy come first: their keys are the current ones.
		seen := map[string]bool{}
		for _, c := range res.Changes.All() {
			seen[c.Path] = true
		}
		todo.Changes.Modified = slices.Clone(res.Changes.Modified)
		for _, c := range pend.Changes {
			if !seen[c.Path] {
				seen[c.Path] = true
				todo.Changes.Modified = append(todo.Changes.Modified, c)
			}
		}
		if !res.Changed() {
			todo.Commit, todo.DeployID = pend.Commit, pend.DeployID
		}
	}
	if res.Changed() {
		rec := pendingPurge{Edition: todo.Edition, Commit: todo.Commit, DeployID: todo.DeployID, Changes: todo.Changes.All()}
		if err := putJSON(ctx, target, prefix+PurgePendingName, rec); err != nil {
			return fmt.Errorf("deployed, but the purge was not attempted: recording it: %w", err)
		}
	}
	if err := p.Purge(ctx, &todo); err != nil {
		what := "deployed, but the purge failed"
		if !res.Changed() {
			what = "nothing new to deploy, but the pending purge failed again"
		}
		return fmt.Errorf("%s (kept in %s%s: the next hoist sync purges it): %w", what, prefix, PurgePendingName, err)
	}
	res.PurgedPending = len(todo.Changes.All()) - res.Changes.Len()
	if _, err := target.Delete(ctx, []string{prefix + PurgePendingName}); err != nil {
		// Purged; the record only makes the next sync purge again.
		return fmt.Errorf("purged, but %s%s could not be removed: %w", prefix, PurgePendingName, err)
	}
	return nil
}
