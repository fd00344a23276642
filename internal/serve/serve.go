// Package serve assembles `hoist serve`: the server with every service
// attached (promotions, smoke tests, deploys and purges, the generation
// trigger, the dashboard). The command and the demo both start hoist
// through New, so what the demo shows is what a deployment runs.
package serve

import (
	"context"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/web"
)

// New returns the server with every service attached, ready to Run.
// opts.Logger must be set; tests and the demo pass their listener in opts.
func New(ctx context.Context, cfg *config.Server, opts server.Options) (*server.Server, error) {
	promotions := flow.New()
	promotions.Attach(&opts)
	gen := generate.New(generate.Deps{Secret: cfg.GenerateSecret, Logger: *opts.Logger})
	gen.Attach(&opts)
	dash := web.NewDashboard(web.DashboardOptions{Logger: *opts.Logger})
	opts.Routes = dash.Routes(opts.Routes)
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	promotions.Start(srv)
	if err := gen.Bind(srv.Store(), srv.ClientCreator()); err != nil {
		srv.Store().Close()
		return nil, err
	}
	dash.Bind(srv.Store(), srv.ClientCreator())
	return srv, nil
}
