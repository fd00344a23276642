package purge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

const cloudflareAPI = "https://api.cloudflare.com"

// cloudflarePurger calls POST /client/v4/zones/{zone}/purge_cache, pacing
// itself with the zone's token buckets so it stays within the plan's rate
// instead of collecting 429s.
type cloudflarePurger struct {
	cfg   CDNConfig
	o     options
	base  string
	limit *zoneLimit
}

func newCloudflare(cfg CDNConfig, o options) *cloudflarePurger {
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = cloudflareAPI
	}
	return &cloudflarePurger{cfg: cfg, o: o, base: base, limit: o.limiters.zone(cfg.ZoneID, cloudflarePlans[cfg.plan()])}
}

type cloudflareAnswer struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result struct {
		ID string `json:"id"`
	} `json:"result"`
}

func (a cloudflareAnswer) err() error {
	var errs []error
	for _, e := range a.Errors {
		errs = append(errs, fmt.Errorf("%d: %s", e.Code, e.Message))
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("success: false without errors"))
	}
	return errors.Join(errs...)
}

func (c *cloudflarePurger) Purge(ctx context.Context, p Plan) (Result, error) {
	res := Result{CDN: c.cfg.Name, Type: Cloudflare}
	if err := checkPlan(c.cfg, p); err != nil {
		return res, err
	}
	endpoint := c.base + "/client/v4/zones/" + url.PathEscape(c.cfg.ZoneID) + "/purge_cache"
	log := c.o.logger(ctx)
	for i, b := range p.Batches {
		var body any
		bucket, cost := c.limit.requests, 1
		switch b.Action {
		case ActionFiles:
			body = map[string][]string{"files": b.Items}
			bucket, cost = c.limit.urls, len(b.Items)
		case ActionTags:
			body = map[string][]string{"tags": b.Items}
		case ActionPrefixes:
			body = map[string][]string{"prefixes": b.Items}
		case ActionEverything:
			body = map[string]bool{"purge_everything": true}
		default:
			return res, fmt.Errorf("cannot perform %q", b.Action)
		}
		if b.Action != ActionEverything && (len(b.Items) == 0 || len(b.Items) > cloudflarePlans[c.cfg.plan()].maxItems) {
			return res, fmt.Errorf("batch %d has %d items", i, len(b.Items))
		}
		payload, err := json.Marshal(body)
		if err != nil {
			return res, err
		}
		if wait := bucket.Reserve(c.o.clock.Now(), cost); wait > 0 {
			log.Debug().Str("cdn", c.cfg.Name).Dur("wait", wait).Msg("cloudflare rate limit: waiting")
			if err := c.o.clock.Sleep(ctx, wait); err != nil {
				return res, fmt.Errorf("waiting for the rate limit: %w", err)
			}
		}
		op := fmt.Sprintf("purge %s (batch %d of %d)", b.Action, i+1, len(p.Batches))
		_, answer, err := doHTTP(ctx, c.o, &res, op, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+c.cfg.APIToken.Reveal())
			req.Header.Set("Content-Type", "application/json")
			return req, nil
		})
		if err != nil {
			var se *StatusError
			var a cloudflareAnswer
			if errors.As(err, &se) && json.Unmarshal(answer, &a) == nil && len(a.Errors) > 0 {
				return res, fmt.Errorf("%s: HTTP %d: %w", op, se.Status, a.err())
			}
			return res, err
		}
		var a cloudflareAnswer
		if err := json.Unmarshal(answer, &a); err != nil {
			return res, fmt.Errorf("%s: unexpected answer %s: %w", op, snippet(answer), err)
		}
		if !a.Success {
			return res, fmt.Errorf("%s: %w", op, a.err())
		}
		if a.Result.ID != "" {
			res.PurgeIDs = append(res.PurgeIDs, a.Result.ID)
		}
		switch b.Action {
		case ActionFiles:
			res.URLs += len(b.Items)
		case ActionTags:
			res.Tags += len(b.Items)
		case ActionPrefixes:
			res.Prefixes += len(b.Items)
		case ActionEverything:
			res.Everything = true
		}
	}
	log.Info().Str("cdn", c.cfg.Name).Int("urls", res.URLs).Int("tags", res.Tags).Int("prefixes", res.Prefixes).
		Bool("everything", res.Everything).Int("requests", res.Requests).Msg("cloudflare purged")
	return res, nil
}
