// Package world builds what hoist runs against outside production: the
// GitHub emulator with an App (and its key), a user and repositories the
// App is installed on. Tests (through internal/hoisttest), the demo and the
// benchmarks share it, so there is one way to make an App key, sign a
// webhook (emulator.Sign) and wait for something to happen. It does not
// import testing: the demo ships in the hoist binary.
package world

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"github.com/hoist-dev/hoist/emulator"
)

// AppKey is a GitHub App's key pair in the forms GitHub uses: the private
// key as GitHub hands it out (PKCS#1 PEM) and the public key it keeps.
type AppKey struct {
	Key           *rsa.PrivateKey
	PrivateKeyPEM []byte
	PublicKeyPEM  string
}

// NewAppKey makes a 2048-bit RSA key, the size GitHub generates.
func NewAppKey() (AppKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return AppKey{}, fmt.Errorf("app key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return AppKey{}, fmt.Errorf("app key: %w", err)
	}
	return AppKey{
		Key:           key,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		PublicKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}, nil
}

// App is an App registered in the emulator, with what hoist needs to act
// as it.
type App struct {
	ID            int64
	Slug          string
	PrivateKeyPEM []byte // PKCS#1, as GitHub hands out
	WebhookSecret string
	// ClientID and ClientSecret are the app's OAuth credentials (sign-in).
	ClientID, ClientSecret string
}

// CreateApp registers an App with a new key. An empty spec.WebhookSecret
// becomes "webhook-secret-of-<slug>" (at least the 16 bytes hoist
// requires); spec.PublicKeyPEM is replaced by the new key's.
func CreateApp(gh *emulator.Server, spec emulator.AppSpec) (*App, error) {
	key, err := NewAppKey()
	if err != nil {
		return nil, err
	}
	if spec.WebhookSecret == "" {
		spec.WebhookSecret = "webhook-secret-of-" + spec.Slug
	}
	spec.PublicKeyPEM = key.PublicKeyPEM
	app, err := gh.CreateApp(spec)
	if err != nil {
		return nil, err
	}
	return &App{ID: app.ID, Slug: app.Slug, PrivateKeyPEM: key.PrivateKeyPEM, WebhookSecret: spec.WebhookSecret,
		ClientID: app.ClientID, ClientSecret: app.ClientSecret}, nil
}

// JWT signs an app token valid for nine minutes.
func (a *App) JWT() string {
	key, err := jwt.ParseRSAPrivateKeyFromPEM(a.PrivateKeyPEM)
	if err != nil {
		panic(err) // the key was made by NewAppKey
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: strconv.FormatInt(a.ID, 10), IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}).SignedString(key)
	if err != nil {
		panic(err)
	}
	return tok
}

// ErrTimeout is what WaitFor returns when its condition never held.
var ErrTimeout = errors.New("condition not met")

// WaitFor checks cond every pollEvery until it holds, or limit passes
// (ErrTimeout, wrapped with the limit). Every wait for hoist's jobs, the
// emulator's deliveries or a server's readiness goes through it.
func WaitFor(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s: %w", limit, ErrTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// pollEvery is short next to the jobs' own poll interval in tests (50 ms),
// and long enough that a waiting test costs little CPU.
const pollEvery = 25 * time.Millisecond

// Spec says what world to build. Zero values take the defaults named.
type Spec struct {
	// Emulator are the emulator's options; DataDir is required.
	Emulator emulator.Options
	// Addr is where the emulator listens ("127.0.0.1:0").
	Addr string
	// App is the App to register: Slug ("hoist"), WebhookURL ("" records
	// deliveries without sending them), WebhookSecret, CallbackURLs.
	App emulator.AppSpec
	// User owns the repositories ("alice").
	User string
	// Owner is the organisation of the repositories ("acme").
	Owner string
	// Repos are created under Owner, with default branch main.
	Repos []string
	// Installed are the repositories (names under Owner) the App is
	// installed on; nil installs it on every one of Repos.
	Installed []string
}

// World is a running emulator with the App, the user and the repositories.
type World struct {
	GitHub *emulator.Server
	App    *App
	// UserToken acts as the user.
	UserToken string
	Owner     string
	// InstallationID is the App's installation (0 when nothing is
	// installed).
	InstallationID int64
}

// Start builds the world spec describes. Close stops the emulator.
func Start(spec Spec) (*World, error) {
	if spec.Addr == "" {
		spec.Addr = "127.0.0.1:0"
	}
	if spec.App.Slug == "" {
		spec.App.Slug = "hoist"
	}
	if spec.User == "" {
		spec.User = "alice"
	}
	if spec.Owner == "" {
		spec.Owner = "acme"
	}
	if spec.Installed == nil {
		spec.Installed = spec.Repos
	}
	gh, err := emulator.New(spec.Emulator)
	if err != nil {
		return nil, err
	}
	if err := gh.Start(spec.Addr); err != nil {
		return nil, err
	}
	w := &World{GitHub: gh, Owner: spec.Owner}
	if err := w.populate(spec); err != nil {
		gh.Close()
		return nil, fmt.Errorf("world: %w", err)
	}
	return w, nil
}

func (w *World) populate(spec Spec) error {
	var err error
	if _, w.UserToken, err = w.GitHub.CreateUser(spec.User); err != nil {
		return err
	}
	if w.App, err = CreateApp(w.GitHub, spec.App); err != nil {
		return err
	}
	for _, name := range spec.Repos {
		if _, err := w.GitHub.CreateRepo(emulator.RepoSpec{Owner: spec.Owner, Name: name, OwnerToken: w.UserToken}); err != nil {
			return err
		}
	}
	if len(spec.Installed) > 0 {
		full := make([]string, len(spec.Installed))
		for i, name := range spec.Installed {
			full[i] = spec.Owner + "/" + name
		}
		if w.InstallationID, err = w.GitHub.Install(w.App.ID, full...); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the emulator.
func (w *World) Close() error { return w.GitHub.Close() }

// WaitReady waits until hoist at base answers /readyz with 200, or limit
// passes.
func WaitReady(base string, limit time.Duration) error {
	err := WaitFor(limit, func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if err != nil {
		return fmt.Errorf("%s/readyz: %w", base, err)
	}
	return nil
}
