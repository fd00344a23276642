package flow

import (
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
		river.AddWorker(e.Workers(), &commandWorker{s: s})
		if workers != nil {
			return workers(e)
		}
		return nil
	}
}

// Start gives the service the server's store, for the audit log.
func (s *Service) Start(srv *server.Server) { s.store = srv.Store() }
