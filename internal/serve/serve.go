// Package serve assembles `hoist serve`: the server with every service
// attached (promotions, smoke tests, deploys and purges, the generation
// trigger, the dashboard). The command and the demo both start hoist
// through New, so what the demo shows is what a deployment runs.
package serve

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/flow"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/web"
)

// New returns the server with every service attached, ready to Run.
// opts.Logger must be set; tests and the demo pass their listener in opts.
func New(ctx context.Context, cfg *serverconfig.Server, opts server.Options) (*server.Server, error) {
	promotions := flow.New()
	if cfg.PreviewURL != "" {
		// The preview origin signs people in itself: its cookies are its
		// own, never the dashboard's.
		gate, err := signIn(cfg, *opts.Logger, cfg.PreviewURL, "hoist_preview_session")
		if err != nil {
			return nil, err
		}
		promotions.SetPreviewGate(gate)
	}
	promotions.Attach(&opts)
	gen := generate.New(generate.Deps{Secret: cfg.GenerateSecret, Logger: *opts.Logger})
	gen.Attach(&opts)
	holds := &storeHolds{}
	var dash *web.Dashboard
	if cfg.Dashboard.Enabled() {
		// The dashboard shows private repositories: it exists only with
		// sign-in, and shows each person what GitHub lets them read.
		auth, err := signIn(cfg, *opts.Logger, cfg.PublicURL, "hoist_session")
		if err != nil {
			return nil, err
		}
		dash = web.NewDashboard(web.DashboardOptions{Logger: *opts.Logger, Holds: holds, Images: smokeImages{promotions}, Access: auth})
		next := opts.Routes
		opts.Routes = dash.Routes(func(mux *http.ServeMux) {
			auth.Mount(mux)
			if next != nil {
				next(mux)
			}
		})
	}
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
	if dash != nil {
		dash.Bind(srv.Store(), srv.ClientCreator())
	}
	return srv, nil
}

// signIn is GitHub sign-in for the origin at base, with the App's OAuth
// credentials from the dashboard section.
func signIn(cfg *serverconfig.Server, log zerolog.Logger, base, cookie string) (*web.Auth, error) {
	d := cfg.Dashboard
	return web.NewAuth(web.AuthOptions{
		ClientID: d.ClientID, ClientSecret: d.ClientSecret, SessionKey: []byte(d.SessionKey),
		GitHubWebURL: cfg.GitHubWebURL(), GitHubAPIURL: cfg.GitHub.URL, BaseURL: base, Cookie: cookie,
		SessionTTL: d.SessionTTL, AccessTTL: d.AccessTTL, HTTPClient: &http.Client{Timeout: cfg.GitHub.Timeout},
		Logger: log.With().Str("component", "sign-in").Logger(),
	})
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
