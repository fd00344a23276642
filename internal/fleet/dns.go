package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/config/serverconfig"
)

// DNS makes the records of instance hostnames.
type DNS interface {
	// Ensure makes host a CNAME of the configured target unless a record
	// of that name exists; it returns the record's id.
	Ensure(ctx context.Context, host string) (id string, created bool, err error)
	// Remove deletes the record of host, if any.
	Remove(ctx context.Context, host string) error
}

// Cloudflare is Cloudflare's DNS records API (v4), the three calls hoist
// needs. It is written here rather than taken from cloudflare-go because
// that SDK covers the whole API and pulls in far more than three JSON
// requests need.
type Cloudflare struct {
	cfg    serverconfig.FleetDNS
	client *http.Client
}

// NewCloudflare returns the client for cfg; client nil uses a 30s timeout.
func NewCloudflare(cfg serverconfig.FleetDNS, client *http.Client) *Cloudflare {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Cloudflare{cfg: cfg, client: client}
}

// cfRecord is a DNS record as Cloudflare's API names its fields.
type cfRecord struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
	Proxied bool   `json:"proxied"`
	Comment string `json:"comment,omitempty"`
}

// cfEnvelope is every answer of the API.
type cfEnvelope struct {
	Success bool            `json:"success"`
	Errors  []cfMessage     `json:"errors"`
	Result  json.RawMessage `json:"result"`
}

type cfMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (c *Cloudflare) call(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.cfg.APIURL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("cloudflare %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("cloudflare %s: %w", method, err)
	}
	var env cfEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("cloudflare %s: HTTP %d, not an API answer", method, resp.StatusCode)
	}
	if !env.Success || resp.StatusCode >= 300 {
		var msgs []string
		for _, e := range env.Errors {
			msgs = append(msgs, fmt.Sprintf("%d %s", e.Code, e.Message))
		}
		return fmt.Errorf("cloudflare %s: HTTP %d: %s", method, resp.StatusCode, strings.Join(msgs, "; "))
	}
	if out != nil {
		if err := json.Unmarshal(env.Result, out); err != nil {
			return fmt.Errorf("cloudflare %s: result: %w", method, err)
		}
	}
	return nil
}

func (c *Cloudflare) find(ctx context.Context, host string) (string, error) {
	var recs []cfRecord
	q := url.Values{"type": {"CNAME"}, "name": {host}}
	if err := c.call(ctx, http.MethodGet, "/zones/"+url.PathEscape(c.cfg.ZoneID)+"/dns_records?"+q.Encode(), nil, &recs); err != nil {
		return "", fmt.Errorf("look up %s: %w", host, err)
	}
	for _, r := range recs {
		if strings.EqualFold(r.Name, host) {
			return r.ID, nil
		}
	}
	return "", nil
}

// Ensure looks the name up first, so that a launch resumed after it made
// the record does not make a second (or fail on the first).
func (c *Cloudflare) Ensure(ctx context.Context, host string) (string, bool, error) {
	if id, err := c.find(ctx, host); err != nil || id != "" {
		return id, false, err
	}
	var rec cfRecord
	err := c.call(ctx, http.MethodPost, "/zones/"+url.PathEscape(c.cfg.ZoneID)+"/dns_records",
		cfRecord{Type: "CNAME", Name: host, Content: c.cfg.Target, TTL: 1, Proxied: c.cfg.Proxied, Comment: "hoist fleet instance"}, &rec)
	if err != nil {
		return "", false, fmt.Errorf("create %s: %w", host, err)
	}
	return rec.ID, true, nil
}

// Remove deletes host's record; an absent record is no error.
func (c *Cloudflare) Remove(ctx context.Context, host string) error {
	id, err := c.find(ctx, host)
	if err != nil || id == "" {
		return err
	}
	if err := c.call(ctx, http.MethodDelete, "/zones/"+url.PathEscape(c.cfg.ZoneID)+"/dns_records/"+url.PathEscape(id), nil, nil); err != nil {
		return fmt.Errorf("delete %s: %w", host, err)
	}
	return nil
}
