package purge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// varnishPurger sends xkey purges to every node. Each node has its own
// cache, so a node that fails does not stop the others; every failure is
// reported with its node.
type varnishPurger struct {
	cfg CDNConfig
	o   options
}

func newVarnish(cfg CDNConfig, o options) *varnishPurger { return &varnishPurger{cfg: cfg, o: o} }

// VarnishPurgedHeader is the response header in which the shipped VCL
// reports how many objects a purge evicted.
const VarnishPurgedHeader = "Xkey-Purged"

func (v *varnishPurger) Purge(ctx context.Context, p Plan) (Result, error) {
	res := Result{CDN: v.cfg.Name, Type: Varnish}
	if err := checkPlan(v.cfg, p); err != nil {
		return res, err
	}
	header := xkeyHeader(p.Soft)
	maxLine := orDefault(v.cfg.MaxHeaderBytes, VarnishMaxHeaderBytes)
	failed := map[string]bool{}
	nodes := map[string]bool{}
	var errs []error
	keys := map[string]bool{}
	for _, b := range p.Batches {
		nodes[b.Node] = true
		if failed[b.Node] {
			continue // one error per node is enough; later batches would fail alike
		}
		if b.Action != ActionKeys {
			return res, fmt.Errorf("cannot perform %q", b.Action)
		}
		value := strings.Join(b.Items, " ")
		if n := len(header) + 2 + len(value) + 2; n > maxLine {
			return res, fmt.Errorf("a batch's %s header is %d bytes, over %d", header, n, maxLine)
		}
		op := fmt.Sprintf("node %s: %s %d keys", b.Node, v.cfg.method(), len(b.Items))
		var purged string
		_, _, err := doHTTP(ctx, v.o, &res, op, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, v.cfg.method(), b.Node+"/", nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set(header, value)
			return req, nil
		}, func(h http.Header) { purged = h.Get(VarnishPurgedHeader) })
		if err != nil {
			if ctx.Err() != nil {
				return res, err
			}
			failed[b.Node] = true
			errs = append(errs, err)
			continue
		}
		if n, err := strconv.Atoi(purged); err == nil {
			res.Evicted += n
		}
		for _, k := range b.Items {
			keys[k] = true
		}
	}
	res.Keys = len(keys)
	res.Nodes = len(nodes) - len(failed)
	log := v.o.logger(ctx)
	if len(errs) > 0 {
		log.Error().Str("cdn", v.cfg.Name).Int("failed_nodes", len(failed)).Int("nodes", len(nodes)).Msg("varnish purge failed on some nodes")
		return res, fmt.Errorf("%d of %d %s failed: %w", len(failed), len(nodes), nodesWord(len(nodes)), errors.Join(errs...))
	}
	log.Info().Str("cdn", v.cfg.Name).Int("keys", res.Keys).Int("nodes", res.Nodes).Int("evicted", res.Evicted).
		Bool("soft", p.Soft).Int("requests", res.Requests).Msg("varnish purged")
	return res, nil
}

func nodesWord(n int) string {
	if n == 1 {
		return "node"
	}
	return "nodes"
}
