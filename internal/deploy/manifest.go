package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/hoist-dev/hoist/internal/site"
)

// ManifestVersion is the format written by this version of hoist; it reads
// version 1 too (see manifest_codec.go).
const ManifestVersion = 2

// Keys of hoist's own objects under an edition prefix.
const (
	ManifestName = ".hoist/manifest.json"
	// PendingName lists the paths a deploy is about to write; it outlives
	// a crash so that the next deploy rewrites or removes them.
	PendingName = ".hoist/pending.json"
)

// Manifest records what an edition prefix holds. It is written last: it is
// the commit point of a deploy.
type Manifest struct {
	Version  int    `json:"version"`
	Edition  string `json:"edition"`
	Commit   string `json:"commit,omitempty"`
	Tree     string `json:"tree,omitempty"`
	DeployID string `json:"deploy_id"`
	// Files maps a path relative to the prefix to what was written.
	Files map[string]ManifestFile `json:"files"`
}

// ManifestFile is one deployed object.
type ManifestFile struct {
	Blob         string `json:"blob"`
	Size         int64  `json:"size"`
	ContentType  string `json:"type"`
	CacheControl string `json:"cache"`
	// Keys are the object's surrogate keys; nil means the default pair,
	// the edition key and the path key (see KeysOf).
	Keys []string `json:"keys"`
}

// KeysOf returns the file's surrogate keys, the default pair when Keys is
// nil.
func (f ManifestFile) KeysOf(edition, path string) []string {
	if f.Keys != nil {
		return f.Keys
	}
	return []string{EditionKey(edition), PathKey(edition, path)}
}

type pendingFile struct {
	DeployID string   `json:"deploy_id"`
	Paths    []string `json:"paths"`
}

// Op is what a deploy does to a path.
type Op string

const (
	Added    Op = "added"
	Modified Op = "modified"
	Deleted  Op = "deleted"
)

// Change is one path to write or remove, with the surrogate keys a CDN
// purge needs (the edition key and the path key).
type Change struct {
	Path    string   `json:"path"`
	Op      Op       `json:"op"`
	Blob    string   `json:"blob,omitempty"`     // new content; empty for deleted
	OldBlob string   `json:"old_blob,omitempty"` // deployed content; empty for added
	Size    int64    `json:"size"`
	Keys    []string `json:"keys,omitempty"`
}

// ChangeSet is the difference between what an edition holds and a tree.
type ChangeSet struct {
	Added     []Change `json:"added"`
	Modified  []Change `json:"modified"`
	Deleted   []Change `json:"deleted"`
	Unchanged int      `json:"unchanged"`
}

// Len is the number of changed paths.
func (c ChangeSet) Len() int { return len(c.Added) + len(c.Modified) + len(c.Deleted) }

// All returns every change: added, modified, then deleted.
func (c ChangeSet) All() []Change {
	all := make([]Change, 0, c.Len())
	all = append(all, c.Added...)
	all = append(all, c.Modified...)
	return append(all, c.Deleted...)
}

// Paths returns every changed path, sorted.
func (c ChangeSet) Paths() []string {
	var ps []string
	for _, ch := range c.All() {
		ps = append(ps, ch.Path)
	}
	sort.Strings(ps)
	return ps
}

// Diff compares what the manifest records with a tree's entries by blob
// SHA. A nil manifest means nothing is deployed. Keys are left for the
// caller, except that deleted paths keep the keys they were written with.
func Diff(m *Manifest, entries []site.Entry) ChangeSet {
	var cs ChangeSet
	var files map[string]ManifestFile
	if m != nil {
		files = m.Files
	}
	// found counts the manifest's paths the entries hold; when it is all
	// of them (entries sorted, each path once), nothing was deleted and
	// no set of the entries' paths need be built.
	found, distinct := 0, true
	for i, e := range entries {
		if i > 0 && entries[i-1].Path >= e.Path {
			distinct = false
		}
		old, ok := files[e.Path]
		switch {
		case !ok:
			cs.Added = append(cs.Added, Change{Path: e.Path, Op: Added, Blob: e.BlobSHA, Size: e.Size})
			continue
		case old.Blob != e.BlobSHA:
			cs.Modified = append(cs.Modified, Change{Path: e.Path, Op: Modified, Blob: e.BlobSHA, OldBlob: old.Blob, Size: e.Size})
		default:
			cs.Unchanged++
		}
		found++
	}
	if !distinct || found != len(files) {
		seen := make(map[string]bool, len(entries))
		for _, e := range entries {
			seen[e.Path] = true
		}
		for p, f := range files {
			if !seen[p] {
				cs.Deleted = append(cs.Deleted, Change{Path: p, Op: Deleted, OldBlob: f.Blob, Size: f.Size, Keys: f.Keys})
			}
		}
	}
	sort.Slice(cs.Deleted, func(i, j int) bool { return cs.Deleted[i].Path < cs.Deleted[j].Path })
	return cs
}

// ReadManifest loads the manifest of an edition prefix; nil, nil when there
// is none.
func ReadManifest(ctx context.Context, t Target, prefix string) (*Manifest, error) {
	var m Manifest
	// decodeManifest directly: through json.Unmarshal and UnmarshalJSON
	// the whole file would be validated twice.
	ok, err := readDecoded(ctx, t, prefix+ManifestName, func(data []byte) error { return decodeManifest(data, &m) })
	if err != nil || !ok {
		return nil, err
	}
	if m.Version != 1 && m.Version != ManifestVersion {
		return nil, fmt.Errorf("manifest %s%s: version %d, this hoist reads versions 1 and %d", prefix, ManifestName, m.Version, ManifestVersion)
	}
	if m.Files == nil {
		m.Files = map[string]ManifestFile{}
	}
	return &m, nil
}

func readJSON(ctx context.Context, t Target, key string, v any) (bool, error) {
	return readDecoded(ctx, t, key, func(data []byte) error { return json.Unmarshal(data, v) })
}

func readDecoded(ctx context.Context, t Target, key string, decode func([]byte) error) (bool, error) {
	r, err := t.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	var data []byte
	if s, ok := r.(interface{ Size() int64 }); ok && s.Size() > 0 && s.Size() < 1<<30 {
		// Read into one buffer of the announced size: io.ReadAll would
		// grow and copy a large manifest many times. A body longer or
		// shorter than announced is still read whole.
		buf := bytes.NewBuffer(make([]byte, 0, s.Size()+1))
		_, err = buf.ReadFrom(r)
		data = buf.Bytes()
	} else {
		data, err = io.ReadAll(r)
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	if err := decode(data); err != nil {
		return false, fmt.Errorf("read %s: not valid JSON: %w", key, err)
	}
	return true, nil
}
