// Package serve assembles `hoist serve`: the server with every service
// attached (promotions, smoke tests, deploys and purges, the generation
// trigger, the dashboard). The command and the demo both start hoist
// through New, so what the demo shows is what a deployment runs.
package serve

import (
	"context"
	"time"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/web"
)

// New returns the server with every service attached, ready to Run.
// opts.Logger must be set; tests and the demo pass their listener in opts.
func New(ctx context.Context, cfg *config.Server, opts server.Options) (*server.Server, error) {
	promotions := flow.New()
	promotions.Attach(&opts)
	gen := generate.New(generate.Deps{Secret: cfg.GenerateSecret, Logger: *opts.Logger})
	gen.Attach(&opts)
	holds := &storeHolds{}
	dash := web.NewDashboard(web.DashboardOptions{Logger: *opts.Logger, Holds: holds, Images: smokeImages{promotions}})
	opts.Routes = dash.Routes(opts.Routes)
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	promotions.Start(srv)
	holds.st = srv.Store()
	if err := gen.Bind(srv.Store(), srv.ClientCreator()); err != nil {
		srv.Store().Close()
		return nil, err
	}
	dash.Bind(srv.Store(), srv.ClientCreator())
	return srv, nil
}

// storeHolds shows the store's holds on the dashboard; st is set once the
// server has opened its store, before it serves.
type storeHolds struct{ st *store.Store }

func (h *storeHolds) ActiveHolds(ctx context.Context, repo string, now time.Time) ([]web.Hold, error) {
	hs, err := h.st.ActiveHolds(ctx, repo, now)
	if err != nil {
		return nil, err
	}
	out := make([]web.Hold, 0, len(hs))
	for _, x := range hs {
		w := web.Hold{Env: x.Env, Actor: x.By, Reason: x.Reason, Since: x.Since}
		if x.Until != nil {
			w.Until = *x.Until
		}
		out = append(out, w)
	}
	return out, nil
}

// smokeImages gives the dashboard the screenshots of hoist/smoke check
// runs, which GitHub's API does not return.
type smokeImages struct{ f *flow.Service }

func (s smokeImages) CheckRunImages(ctx context.Context, repo string, checkRunID int64) ([]web.Image, error) {
	imgs, err := s.f.SmokeImages(ctx, repo, checkRunID)
	if err != nil {
		return nil, err
	}
	out := make([]web.Image, 0, len(imgs))
	for _, i := range imgs {
		out = append(out, web.Image{Alt: i.Alt, URL: i.ImageURL, Caption: i.Caption})
	}
	return out, nil
}
