package flow

import (
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/riverqueue/river"

	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/server"
)

// Attach wires the service into a server's options before server.New: the
// built-in handlers get it as their Promotions dependency (with the
// server's GitHub clients) and its worker is registered with the job
// engine. Call Start with the server once New has returned.
func (s *Service) Attach(opts *server.Options) {
	builtin := opts.BuiltinHandlers
	opts.BuiltinHandlers = func(d handlers.Deps) []githubapp.EventHandler {
		s.clients = d.ClientCreator
		d.Promotions = s
		d.Commands = s
		if builtin != nil {
			return builtin(d)
		}
		return handlers.All(d)
	}
	workers := opts.Workers
	opts.Workers = func(e *jobs.Engine) error {
		s.engine = e
		river.AddWorker(e.Workers(), &evaluateWorker{s: s})
		s.addPushWorkers(e)
		river.AddWorker(e.Workers(), &publishWorker{s: s})
		river.AddWorker(e.Workers(), &smokeWorker{s: s})
		river.AddWorker(e.Workers(), &smokeDeadlineWorker{s: s})
		river.AddWorker(e.Workers(), &commandWorker{s: s})
		if workers != nil {
			return workers(e)
		}
		return nil
	}
	routes := opts.Routes
	opts.Routes = func(mux *http.ServeMux) {
		s.mountSmoke(mux)
		if routes != nil {
			routes(mux)
		}
	}
	previews := opts.PreviewRoutes
	opts.PreviewRoutes = func(mux *http.ServeMux) {
		s.mountPreview(mux)
		if previews != nil {
			previews(mux)
		}
	}
}

// Start gives the service the server's store (audit log, publish leases),
// its configuration (deploy targets, CDNs) and its smoke settings.
func (s *Service) Start(srv *server.Server) {
	s.store = srv.Store()
	s.cfg = srv.Config()
	s.startSmoke(srv)
	s.addPruners(srv)
}
