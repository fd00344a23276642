package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
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
	target, err := NewTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tree, err := site.NewDirTree(o.Dir)
	if err != nil {
		return nil, err
	}
	edition := o.Edition
	if edition == "" {
		edition = "default"
		if p := strings.TrimSuffix(prefix, "/"); p != "" {
			edition = p[strings.LastIndex(p, "/")+1:]
		}
	}
	res, err := Deploy(ctx, target, Request{
		Tree: tree, Prefix: prefix, Edition: edition, Rules: o.Rules,
		Concurrency: o.Concurrency, DryRun: o.DryRun, Throttle: o.Throttle, SkipBrokenLinks: o.SkipBrokenLinks,
	})
	if err != nil {
		return res, err
	}
	if o.Purger != nil && res.Changed() && !o.DryRun {
		if err := o.Purger.Purge(ctx, res); err != nil {
			return res, fmt.Errorf("deployed, but the purge failed: %w", err)
		}
	}
	return res, nil
}
