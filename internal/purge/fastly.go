package purge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// fastlyAPI is Fastly's API endpoint.
const fastlyAPI = "https://api.fastly.com"

// fastlyPurger calls Fastly's purge API with net/http rather than
// go-fastly: hoist needs two endpoints, its own retry policy (Retry-After,
// a fake clock in tests) and a base URL for tests, and go-fastly would add
// a large module tree for them.
type fastlyPurger struct {
	cfg  CDNConfig
	o    options
	base string
}

func newFastly(cfg CDNConfig, o options) *fastlyPurger {
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	if base == "" {
		base = fastlyAPI
	}
	return &fastlyPurger{cfg: cfg, o: o, base: base}
}

func (f *fastlyPurger) Purge(ctx context.Context, p Plan) (Result, error) {
	res := Result{CDN: f.cfg.Name, Type: Fastly}
	if err := checkPlan(f.cfg, p); err != nil {
		return res, err
	}
	service := url.PathEscape(f.cfg.ServiceID)
	for i, b := range p.Batches {
		switch b.Action {
		case ActionPurgeAll:
			op := "purge_all"
			_, _, err := doHTTP(ctx, f.o, &res, op, func(ctx context.Context) (*http.Request, error) {
				return f.request(ctx, f.base+"/service/"+service+"/purge_all", nil, false)
			})
			if err != nil {
				return res, err
			}
			res.Everything = true
		case ActionKeys:
			if len(b.Items) > FastlyMaxKeys {
				return res, fmt.Errorf("batch %d has %d keys, over Fastly's %d", i, len(b.Items), FastlyMaxKeys)
			}
			// The keys go in the JSON body, which has no size limit,
			// rather than the Surrogate-Key header (16 KB).
			body, err := json.Marshal(map[string][]string{"surrogate_keys": b.Items})
			if err != nil {
				return res, err
			}
			op := fmt.Sprintf("purge %d keys (batch %d of %d)", len(b.Items), i+1, len(p.Batches))
			_, answer, err := doHTTP(ctx, f.o, &res, op, func(ctx context.Context) (*http.Request, error) {
				return f.request(ctx, f.base+"/service/"+service+"/purge", body, p.Soft)
			})
			if err != nil {
				return res, err
			}
			// The answer maps each key to its purge id.
			var ids map[string]string
			if err := json.Unmarshal(answer, &ids); err != nil {
				return res, fmt.Errorf("%s: unexpected answer %s: %w", op, snippet(answer), err)
			}
			for _, k := range b.Items {
				if id, ok := ids[k]; ok {
					res.PurgeIDs = append(res.PurgeIDs, id)
				}
			}
			res.Keys += len(b.Items)
		default:
			return res, fmt.Errorf("cannot perform %q", b.Action)
		}
	}
	f.o.logger(ctx).Info().Str("cdn", f.cfg.Name).Int("keys", res.Keys).Bool("soft", p.Soft).
		Bool("everything", res.Everything).Int("requests", res.Requests).Msg("fastly purged")
	return res, nil
}

func (f *fastlyPurger) request(ctx context.Context, u string, body []byte, soft bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Fastly-Key", f.cfg.APIToken.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if soft {
		req.Header.Set("Fastly-Soft-Purge", "1")
	}
	return req, nil
}
