package purge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Change is one site path a deploy added, modified or deleted (relative to
// the site root, e.g. "docs/a/index.html") with its surrogate keys.
type Change struct {
	Path string   `json:"path"`
	Keys []string `json:"keys,omitempty"`
}

// Request is what to purge after a deploy of one environment (edition).
type Request struct {
	// ID identifies the deploy (for example "<edition>@<commit>"). It makes
	// CloudFront's CallerReference deterministic, so a retried deploy does
	// not create a second invalidation. Empty means "always a new one".
	ID      string `json:"id,omitempty"`
	Edition string `json:"edition"`
	// EditionKey is carried by every object of the edition; purging it
	// refreshes the whole edition and nothing else.
	EditionKey string `json:"edition_key,omitempty"`
	// Prefix is the environment's URL path prefix ("" or "staging/").
	Prefix  string   `json:"prefix,omitempty"`
	Changes []Change `json:"changes,omitempty"`
	// All purges the whole edition (or the whole CDN where the CDN cannot
	// narrow it), whatever Changes says.
	All bool `json:"all,omitempty"`
	// Inventory optionally lists every path the edition serves after the
	// deploy. With it, CloudFront collapsing counts over-invalidation
	// exactly; without it, it estimates (see docs/purge.md).
	Inventory []string `json:"inventory,omitempty"`
}

// Action is what one request of a plan asks the CDN to do.
type Action string

const (
	ActionKeys       Action = "keys"             // Fastly batch purge, Varnish xkey
	ActionPurgeAll   Action = "purge_all"        // Fastly: the whole service
	ActionPaths      Action = "paths"            // CloudFront invalidation paths
	ActionFiles      Action = "files"            // Cloudflare URLs
	ActionTags       Action = "tags"             // Cloudflare cache tags
	ActionPrefixes   Action = "prefixes"         // Cloudflare URL prefixes
	ActionEverything Action = "purge_everything" // Cloudflare: the whole zone
)

// Batch is one request of a plan.
type Batch struct {
	Action Action   `json:"action"`
	Items  []string `json:"items,omitempty"`
	// Node is the Varnish node the batch goes to.
	Node string `json:"node,omitempty"`
}

// Plan is the exact list of requests a purge makes, and why.
type Plan struct {
	CDN     string  `json:"cdn"`
	Type    Type    `json:"type"`
	Soft    bool    `json:"soft,omitempty"`
	Batches []Batch `json:"batches"`
	// Changed is the number of changed paths the plan covers.
	Changed int `json:"changed"`
	// Whole is set when the plan purges the whole edition or more
	// (--all, or a fallback); Fallback says why when it was not asked for.
	Whole    bool   `json:"whole,omitempty"`
	Fallback string `json:"fallback,omitempty"`

	// CloudFront: paths in the invalidation, how many are wildcards,
	// objects invalidated that did not change (exact when the request had
	// an inventory, else an estimate), and the CallerReference.
	ExactPaths      int    `json:"exact_paths,omitempty"`
	Wildcards       int    `json:"wildcards,omitempty"`
	OverInvalidated int    `json:"over_invalidated,omitempty"`
	OverEstimated   bool   `json:"over_estimated,omitempty"`
	CallerReference string `json:"caller_reference,omitempty"`

	Notes []string `json:"notes,omitempty"`
}

// Empty reports whether the plan makes no request.
func (p Plan) Empty() bool { return len(p.Batches) == 0 }

// Items counts the items (keys, paths, URLs, tags) over all batches.
func (p Plan) Items() int {
	n := 0
	for _, b := range p.Batches {
		n += len(b.Items)
	}
	return n
}

// MakePlan decides the exact requests that purge req from the CDN cfg
// describes, within the CDN's limits. It does no I/O.
func MakePlan(req Request, cfg CDNConfig) (Plan, error) {
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	if err := req.validate(); err != nil {
		return Plan{}, fmt.Errorf("purge %s for %s: %w", req.Edition, cfg.Name, err)
	}
	p := Plan{CDN: cfg.Name, Type: cfg.Type, Changed: len(req.Changes)}
	if !req.All && len(req.Changes) == 0 {
		return p, nil
	}
	var err error
	switch cfg.Type {
	case Fastly:
		err = planFastly(&p, req, cfg)
	case CloudFront:
		err = planCloudFront(&p, req, cfg)
	case Cloudflare:
		err = planCloudflare(&p, req, cfg)
	case Varnish:
		err = planVarnish(&p, req, cfg)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("purge %s for %s: %w", req.Edition, cfg.Name, err)
	}
	return p, nil
}

func (r Request) validate() error {
	if err := checkKey(r.EditionKey); r.EditionKey != "" && err != nil {
		return fmt.Errorf("edition key: %w", err)
	}
	for i, c := range r.Changes {
		if c.Path == "" || strings.HasPrefix(c.Path, "/") || strings.Contains(c.Path, "\x00") {
			return fmt.Errorf("changes[%d]: path %q must be relative to the site root, without a leading slash", i, c.Path)
		}
		if cleaned := path.Clean(c.Path); cleaned != strings.TrimSuffix(c.Path, "/") || cleaned == ".." || strings.HasPrefix(cleaned, "../") {
			return fmt.Errorf("changes[%d]: path %q is not clean", i, c.Path)
		}
		for _, k := range c.Keys {
			if err := checkKey(k); err != nil {
				return fmt.Errorf("changes[%d] (%s): %w", i, c.Path, err)
			}
		}
	}
	return nil
}

// checkKey refuses keys that would break a space-separated header: keys are
// printable ASCII without spaces (as Fastly and xkey require).
func checkKey(k string) error {
	if k == "" {
		return fmt.Errorf("empty surrogate key")
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= 0x20 || k[i] >= 0x7f {
			return fmt.Errorf("surrogate key %q: only printable ASCII without spaces is allowed", k)
		}
	}
	return nil
}

// pathKeys returns the distinct keys that name the changed paths, sorted,
// without the edition key (every path carries it; purging it would purge
// the whole edition). uncovered is the first path with no other key.
func pathKeys(req Request) (keys []string, uncovered string) {
	seen := map[string]bool{}
	for _, c := range req.Changes {
		own := false
		for _, k := range c.Keys {
			if k == req.EditionKey {
				continue
			}
			own = true
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if !own && uncovered == "" {
			uncovered = c.Path
		}
	}
	slices.Sort(keys)
	return keys, uncovered
}

// planKeyPurge decides the keys of a key-based purge (Fastly, Varnish,
// Cloudflare tags): the path keys, or the edition key when a path has no
// key of its own or when the batches would exceed maxBatches.
func planKeyPurge(p *Plan, req Request, maxBatches int, batchesFor func([]string) int) ([]string, error) {
	if req.All {
		if req.EditionKey == "" {
			return nil, fmt.Errorf("--all needs the edition key")
		}
		p.Whole = true
		return []string{req.EditionKey}, nil
	}
	keys, uncovered := pathKeys(req)
	if uncovered != "" {
		if req.EditionKey == "" {
			return nil, fmt.Errorf("path %s has no surrogate key and there is no edition key to fall back to", uncovered)
		}
		p.Whole = true
		p.Fallback = fmt.Sprintf("path %s has no surrogate key of its own: purging the edition key %s", uncovered, req.EditionKey)
		return []string{req.EditionKey}, nil
	}
	if n := batchesFor(keys); n > maxBatches {
		if req.EditionKey != "" {
			p.Whole = true
			p.Fallback = fmt.Sprintf("%d keys need %d requests, over the limit of %d: purging the edition key %s", len(keys), n, maxBatches, req.EditionKey)
			return []string{req.EditionKey}, nil
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%d requests, over the limit of %d, but there is no edition key to fall back to", n, maxBatches))
	}
	return keys, nil
}

func chunk(items []string, n int) [][]string {
	var out [][]string
	for len(items) > 0 {
		k := min(n, len(items))
		out = append(out, items[:k:k])
		items = items[k:]
	}
	return out
}

func planFastly(p *Plan, req Request, cfg CDNConfig) error {
	p.Soft = cfg.Soft
	max := orDefault(cfg.MaxKeysPerRequest, FastlyMaxKeys)
	if req.All && (cfg.PurgeAll || req.EditionKey == "") {
		p.Whole = true
		p.Batches = []Batch{{Action: ActionPurgeAll}}
		if cfg.Soft {
			p.Soft = false
			p.Notes = append(p.Notes, "purge_all cannot be soft: every object of the service is evicted")
		}
		return nil
	}
	keys, err := planKeyPurge(p, req, orDefault(cfg.MaxBatches, DefaultMaxBatches), func(k []string) int {
		return (len(k) + max - 1) / max
	})
	if err != nil {
		return err
	}
	for _, c := range chunk(keys, max) {
		p.Batches = append(p.Batches, Batch{Action: ActionKeys, Items: c})
	}
	return nil
}

// xkeyChunks splits keys so that each header line "xkey-purge: k1 k2…\r\n"
// stays within maxLine bytes.
func xkeyChunks(keys []string, header string, maxLine int) ([][]string, error) {
	overhead := len(header) + len(": ") + len("\r\n")
	var out [][]string
	var cur []string
	size := overhead
	for _, k := range keys {
		add := len(k)
		if len(cur) > 0 {
			add++ // the separating space
		}
		if overhead+len(k) > maxLine {
			return nil, fmt.Errorf("surrogate key %.40q… is too long for a %d-byte header", k, maxLine)
		}
		if size+add > maxLine {
			out = append(out, cur)
			cur, size, add = nil, overhead, len(k)
		}
		cur = append(cur, k)
		size += add
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

func xkeyHeader(soft bool) string {
	if soft {
		return "xkey-softpurge"
	}
	return "xkey-purge"
}

func planVarnish(p *Plan, req Request, cfg CDNConfig) error {
	p.Soft = cfg.Soft
	maxLine := orDefault(cfg.MaxHeaderBytes, VarnishMaxHeaderBytes)
	header := xkeyHeader(cfg.Soft)
	var chunkErr error
	keys, err := planKeyPurge(p, req, orDefault(cfg.MaxBatches, DefaultMaxBatches), func(k []string) int {
		c, err := xkeyChunks(k, header, maxLine)
		chunkErr = err
		return len(c)
	})
	if err != nil {
		return err
	}
	if chunkErr != nil && !p.Whole {
		return chunkErr
	}
	chunks, err := xkeyChunks(keys, header, maxLine)
	if err != nil {
		return err
	}
	for _, node := range cfg.Nodes {
		for _, c := range chunks {
			p.Batches = append(p.Batches, Batch{Action: ActionKeys, Items: c, Node: strings.TrimSuffix(node, "/")})
		}
	}
	return nil
}

// urlPrefix returns the environment prefix as a URL path: "/" or "/staging/".
func urlPrefix(prefix string) string {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return "/"
	}
	return "/" + escapePath(prefix) + "/"
}

// escapePath percent-encodes each segment, as CloudFront asks for unsafe
// characters; a literal "*" becomes %2A so it is never a wildcard.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// urlPaths returns the URL paths under which a site path is cached: the
// file itself and, for an index.html, its directory ("dir/index.html" →
// "/dir/", the root "index.html" → "/"), plus "/dir" when bare is set.
func urlPaths(prefix, sitePath string, bare bool) []string {
	base := urlPrefix(prefix)
	file := base + escapePath(sitePath)
	out := []string{file}
	if sitePath == "index.html" || strings.HasSuffix(sitePath, "/index.html") {
		dir := strings.TrimSuffix(file, "index.html")
		out = append(out, dir)
		if bare && dir != "/" {
			out = append(out, strings.TrimSuffix(dir, "/"))
		}
	}
	return out
}

func callerReference(req Request, cfg CDNConfig, paths []string) string {
	if req.ID == "" {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", req.ID, cfg.DistributionID, req.Edition)
	for _, p := range paths {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "hoist-" + hex.EncodeToString(h.Sum(nil)[:16])
}
