package purge

import (
	"fmt"
	"strings"
	"time"
)

// cloudflareLimit is a plan's documented purge limits. Cloudflare meters
// tag, prefix, host and purge-everything requests with a token bucket of
// requests, and single-file purges with a bucket of URLs.
type cloudflareLimit struct {
	requestsPer   time.Duration // one request token refills every requestsPer
	requestBurst  int
	urlsPerSecond int
	maxItems      int // per request (URLs); tags and prefixes stay at 100
}

var cloudflarePlans = map[string]cloudflareLimit{
	"free":       {requestsPer: time.Minute / 5, requestBurst: 25, urlsPerSecond: 800, maxItems: 100},
	"pro":        {requestsPer: time.Second / 5, requestBurst: 25, urlsPerSecond: 1500, maxItems: 100},
	"business":   {requestsPer: time.Second / 10, requestBurst: 50, urlsPerSecond: 1500, maxItems: 100},
	"enterprise": {requestsPer: time.Second / 50, requestBurst: 500, urlsPerSecond: 3000, maxItems: 500},
}

func planCloudflare(p *Plan, req Request, cfg CDNConfig) error {
	limit := cloudflarePlans[cfg.plan()]
	maxBatches := orDefault(cfg.MaxBatches, DefaultMaxBatches)
	site := strings.TrimSuffix(cfg.SiteURL, "/")
	// Tags and prefixes are limited to 100 a request on every plan.
	maxTags := min(orDefault(cfg.MaxItems, CloudflareMaxItems), CloudflareMaxItems)
	whole := func(reason string) {
		p.Whole = true
		p.Fallback = reason
		prefix := strings.Trim(req.Prefix, "/")
		switch {
		case cfg.mode() == "tags" && req.EditionKey != "":
			p.Batches = []Batch{{Action: ActionTags, Items: []string{req.EditionKey}}}
		case prefix != "" && site != "":
			// A prefix is host/path without the scheme.
			host := site[strings.Index(site, "://")+3:]
			p.Batches = []Batch{{Action: ActionPrefixes, Items: []string{host + urlPrefix(prefix)}}}
		default:
			p.Batches = []Batch{{Action: ActionEverything}}
		}
	}
	if req.All {
		whole("")
		return nil
	}
	if cfg.mode() == "tags" {
		keys, err := planKeyPurge(p, req, maxBatches, func(k []string) int { return (len(k) + maxTags - 1) / maxTags })
		if err != nil {
			return err
		}
		for _, c := range chunk(keys, maxTags) {
			p.Batches = append(p.Batches, Batch{Action: ActionTags, Items: c})
		}
		return nil
	}
	maxURLs := orDefault(cfg.MaxItems, limit.maxItems)
	seen := map[string]bool{}
	var urls []string
	for _, c := range req.Changes {
		for _, u := range urlPaths(req.Prefix, c.Path, cfg.BareDirectories) {
			if !seen[u] {
				seen[u] = true
				urls = append(urls, site+u)
			}
		}
	}
	if n := (len(urls) + maxURLs - 1) / maxURLs; n > maxBatches {
		whole(fmt.Sprintf("%d URLs need %d requests, over the limit of %d", len(urls), n, maxBatches))
		return nil
	}
	for _, c := range chunk(urls, maxURLs) {
		p.Batches = append(p.Batches, Batch{Action: ActionFiles, Items: c})
	}
	return nil
}
