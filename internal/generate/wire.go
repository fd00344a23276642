package generate

import (
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/store"
)

// Attach wires the service into a server's options before server.New: its
// repository_dispatch handler (which takes precedence over the built-in
// one), its workers and the POST route at Path. Call Bind once New has
// returned.
func (s *Service) Attach(opts *server.Options) {
	opts.Handlers = append(opts.Handlers, handlers.NewGenerationHandler(handlers.Deps{}, s))
	workers := opts.Workers
	opts.Workers = func(e *jobs.Engine) error {
		s.RegisterWorkers(e)
		if workers != nil {
			return workers(e)
		}
		return nil
	}
	routes := opts.Routes
	opts.Routes = func(mux *http.ServeMux) {
		mux.Handle(Path, s.HTTPHandler())
		if routes != nil {
			routes(mux)
		}
	}
}

// Bind gives the service the server's store and, for the dependencies
// Deps left nil, GitHub access through the App's clients: installation
// clients for RepoFor, the App client for InstallationFor, and
// .github/hoist.yml for Settings.
func (s *Service) Bind(st *store.Store, cc githubapp.ClientCreator) error {
	if s.d.Store == nil {
		s.d.Store = st
	}
	if s.d.RepoFor == nil {
		s.d.RepoFor = ClientRepos(cc)
	}
	if s.d.InstallationFor == nil {
		f, err := AppInstallations(cc)
		if err != nil {
			return err
		}
		s.d.InstallationFor = f
	}
	if s.d.Settings == nil {
		s.d.Settings = RepoConfigSettings(s.d.RepoFor)
	}
	return nil
}
