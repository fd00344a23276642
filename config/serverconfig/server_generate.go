package serverconfig

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Generate is the server's section for site generation: the secret each
// repository's database trigger signs `POST /api/generate/{owner}/{repo}`
// with. Secrets never live in a repository, so they are here:
//
//	generate:
//	  repositories:
//	    acme/shop: { secret_file: /etc/hoist/acme-shop.secret }
//	    acme/blog: { secret: "at least 16 characters" }
//
// Server embeds it as the line  Generate `yaml:"generate"`  which also makes
// cfg.GenerateSecret available. The section finds itself through the
// generateSection method that embedding promotes, so a Server without the
// field still compiles and simply has no generate secrets.
type Generate struct {
	// Repositories maps "owner/name" to that repository's trigger secret.
	Repositories map[string]GenerateRepository `yaml:"repositories"`

	// secrets is filled at load: lower-cased owner/name to the secret
	// (GitHub's names are case-insensitive).
	secrets map[string]string
}

// GenerateRepository is one repository's trigger secret, given inline or
// as a file (read once at start; change it by restarting).
type GenerateRepository struct {
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
}

// GenerateMinSecretLen is the shortest secret accepted: an HMAC key much
// shorter than this is guessable.
const GenerateMinSecretLen = 16

// generateRepoName is GitHub's owner/name shape.
var generateRepoName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

func init() {
	registerServerSection("generate", nil, func(cfg *Server, src serverSources) error {
		if g := generateOf(cfg); g != nil {
			return g.load(src)
		}
		return nil
	})
}

// generateSection is promoted to Server by embedding Generate.
func (g *Generate) generateSection() *Generate { return g }

// generateOf returns cfg's generate section, or nil when Server does not
// embed one.
func generateOf(cfg *Server) *Generate {
	if h, ok := any(cfg).(interface{ generateSection() *Generate }); ok {
		return h.generateSection()
	}
	return nil
}

// GenerateSecret returns the trigger secret of owner/repo, if one is
// configured.
func (g *Generate) GenerateSecret(owner, repo string) (string, bool) {
	s, ok := g.secrets[strings.ToLower(owner+"/"+repo)]
	return s, ok
}

// load checks every entry and reads the secret files, in name order so that
// the first problem reported is always the same one.
func (g *Generate) load(src serverSources) error {
	names := make([]string, 0, len(g.Repositories))
	for name := range g.Repositories {
		names = append(names, name)
	}
	sort.Strings(names)
	g.secrets = make(map[string]string, len(names))
	for _, name := range names {
		r := g.Repositories[name]
		at := "generate.repositories." + name
		if !generateRepoName.MatchString(name) {
			return src.errorf(at, "", "%q is not a repository name like owner/name", name)
		}
		key := strings.ToLower(name)
		if _, dup := g.secrets[key]; dup {
			return src.errorf(at, "", "repository %s is listed twice (names are case-insensitive)", name)
		}
		secret := r.Secret
		switch {
		case r.Secret != "" && r.SecretFile != "":
			return src.errorf(at, "", "set secret or secret_file, not both")
		case r.SecretFile != "":
			b, err := os.ReadFile(r.SecretFile)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return src.errorf(at+".secret_file", "", "cannot read %s: %v", r.SecretFile, err)
			}
			// Files written by `echo` end with a newline that is not part
			// of the secret.
			secret = strings.TrimRight(string(b), "\r\n")
			at += ".secret_file"
		case r.Secret == "":
			return src.errorf(at, "", "needs secret or secret_file: the key the trigger signs its requests with")
		default:
			at += ".secret"
		}
		if len(secret) < GenerateMinSecretLen {
			// Never echo the secret itself.
			return src.errorf(at, "", "the secret is %d bytes; use at least %d (for example: openssl rand -hex 32)", len(secret), GenerateMinSecretLen)
		}
		g.secrets[key] = secret
	}
	return nil
}

// String keeps secrets out of logs and %v.
func (r GenerateRepository) String() string {
	if r.SecretFile != "" {
		return fmt.Sprintf("{secret_file: %s}", r.SecretFile)
	}
	return "{secret: <redacted>}"
}
