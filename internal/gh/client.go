package gh

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/version"
)

// NewClientCreator returns go-githubapp's caching client creator for the
// App in cfg: the app client signs JWTs with the private key, installation
// clients carry installation tokens that ghinstallation caches and renews
// before they expire, every client sends hoist's user agent and goes
// through the RateLimit middleware, and GET answers are cached per client
// and revalidated with If-None-Match (github.cache_mb).
func NewClientCreator(cfg *serverconfig.Server, rl RateLimitOptions) (githubapp.ClientCreator, error) {
	key, err := cfg.PrivateKeyPEM()
	if err != nil {
		return nil, err
	}
	var app githubapp.Config
	app.V3APIURL = cfg.GitHub.URL
	app.V4APIURL = GraphQLURL(cfg.GitHub.URL)
	app.App.IntegrationID = cfg.GitHub.AppID
	app.App.PrivateKey = string(key)
	app.App.WebhookSecret = cfg.GitHub.WebhookSecret

	// The timeout bounds each attempt's wait for response headers rather
	// than the whole call (http.Client.Timeout would), so that waiting out
	// a rate limit is not mistaken for a hung request.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = cfg.GitHub.Timeout
	transport.TLSHandshakeTimeout = min(cfg.GitHub.Timeout, 10*time.Second)

	opts := []githubapp.ClientOption{
		githubapp.WithTransport(userAgent{transport}),
		githubapp.WithClientUserAgent(version.UserAgent()),
		githubapp.WithClientMiddleware(RateLimit(rl)),
	}
	if cfg.GitHub.CacheMB > 0 {
		// alwaysValidate: GitHub's max-age=60 would otherwise serve a
		// minute-old ref or status without asking, and hoist must see a
		// push at once; revalidating still costs nothing when unchanged.
		// go-githubapp puts the cache inside the installation transport,
		// so the rate-limit middleware sees what it returns (a 304 made
		// into the cached 200, marked X-From-Cache).
		rc := newResponseCache(int64(cfg.GitHub.CacheMB) << 20)
		opts = append(opts, githubapp.WithClientCaching(true, rc.scope))
	}
	cc, err := githubapp.NewDefaultCachingClientCreator(app, opts...)
	if err != nil {
		return nil, fmt.Errorf("gh: client creator: %w", err)
	}
	return cc, nil
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
