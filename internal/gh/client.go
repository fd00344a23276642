package gh

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/shurcooL/githubv4"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/version"
)

// NewClientCreator returns go-githubapp's caching client creator for the
// App in cfg: the app client signs JWTs with the private key, installation
// clients carry installation tokens that ghinstallation caches and renews
// before they expire, every client sends hoist's user agent and goes
// through the rate-limit middleware, and GET answers are cached per client
// and revalidated with If-None-Match (github.cache_mb).
//
// All clients of one installation share one write pace (github.write_interval,
// github.writes_per_minute) and one pause after a secondary limit, so that
// the installation's writes leave one at a time whichever job sends them.
func NewClientCreator(cfg *serverconfig.Server, rl RateLimitOptions) (githubapp.ClientCreator, error) {
	key, err := cfg.PrivateKeyPEM()
	if err != nil {
		return nil, err
	}
	if rl.Pace.Interval == 0 {
		rl.Pace.Interval = cfg.GitHub.WriteInterval
	}
	if rl.Pace.PerWindow == 0 {
		rl.Pace.PerWindow = cfg.GitHub.WritesPerMinute
	}
	if rl.SecondaryWait == 0 {
		rl.SecondaryWait = cfg.GitHub.SecondaryWait
	}
	rl.defaults()
	paces := newPaces(rl.Pace)

	// The timeout bounds each attempt's wait for response headers rather
	// than the whole call (http.Client.Timeout would), so that waiting out
	// a rate limit is not mistaken for a hung request.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = cfg.GitHub.Timeout
	transport.TLSHandshakeTimeout = min(cfg.GitHub.Timeout, 10*time.Second)

	var caching []githubapp.ClientOption
	if cfg.GitHub.CacheMB > 0 {
		// alwaysValidate: GitHub's max-age=60 would otherwise serve a
		// minute-old ref or status without asking, and hoist must see a
		// push at once; revalidating still costs nothing when unchanged.
		// go-githubapp puts the cache inside the installation transport,
		// so the rate-limit middleware sees what it returns (a 304 made
		// into the cached 200, marked X-From-Cache).
		rc := newResponseCache(int64(cfg.GitHub.CacheMB) << 20)
		caching = append(caching, githubapp.WithClientCaching(true, rc.scope))
	}
	creator := func(pace *installationPace) githubapp.ClientCreator {
		opts := append([]githubapp.ClientOption{
			githubapp.WithTransport(userAgent{transport}),
			githubapp.WithClientUserAgent(version.UserAgent()),
			githubapp.WithClientMiddleware(func(next http.RoundTripper) http.RoundTripper {
				return newRateLimiter(next, rl, pace)
			}),
		}, caching...)
		return githubapp.NewClientCreator(cfg.GitHub.URL, GraphQLURL(cfg.GitHub.URL), cfg.GitHub.AppID, key, opts...)
	}
	// go-githubapp applies middleware to the clients a creator makes
	// without telling it the installation, so each installation's clients
	// come from a creator of their own that carries its pace; app and
	// token clients share a pace of their own.
	paced := &pacedCreator{ClientCreator: creator(paces.get(0)), forInstallation: func(id int64) githubapp.ClientCreator {
		return creator(paces.get(id))
	}}
	cc, err := githubapp.NewCachingClientCreator(paced, githubapp.DefaultCachingClientCapacity)
	if err != nil {
		return nil, fmt.Errorf("gh: client creator: %w", err)
	}
	return cc, nil
}

// pacedCreator makes installation clients with their installation's pace.
type pacedCreator struct {
	githubapp.ClientCreator
	forInstallation func(id int64) githubapp.ClientCreator
}

func (p *pacedCreator) NewInstallationClient(id int64) (*github.Client, error) {
	return p.forInstallation(id).NewInstallationClient(id)
}

func (p *pacedCreator) NewInstallationV4Client(id int64) (*githubv4.Client, error) {
	return p.forInstallation(id).NewInstallationV4Client(id)
}

// GraphQLURL derives the GraphQL endpoint from the REST base URL:
// https://api.github.com/ → https://api.github.com/graphql, and GitHub
// Enterprise Server's https://HOST/api/v3/ → https://HOST/api/graphql.
func GraphQLURL(rest string) string {
	rest = strings.TrimSuffix(rest, "/")
	if strings.HasSuffix(rest, "/api/v3") {
		return strings.TrimSuffix(rest, "/v3") + "/graphql"
	}
	return rest + "/graphql"
}

// userAgent sets hoist's user agent on requests that go-github does not
// build itself, such as ghinstallation's installation token requests.
type userAgent struct{ next http.RoundTripper }

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	if ua := r.Header.Get("User-Agent"); ua == "" || strings.HasPrefix(ua, "Go-http-client") {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", version.UserAgent())
	}
	return u.next.RoundTrip(r)
}
