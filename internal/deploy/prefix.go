package deploy

import (
	"fmt"
	"strings"

	"github.com/hoist-dev/hoist/config"
)

// JoinPrefix places a repository's prefix rel ("production/") under the
// folder the server gives the repository on a target (base, such as
// "acme/site/", already expanded from the target's template). The result
// always lies under base; a rel that could escape it is refused.
func JoinPrefix(base, rel string) (string, error) {
	if msg := config.CheckRelPrefix(rel); msg != "" {
		return "", fmt.Errorf("prefix %s", msg)
	}
	if base != "" {
		b, err := cleanPrefix(base)
		if err != nil || config.CheckRelPrefix(base) != "" {
			return "", fmt.Errorf("folder %q of the target is not a clean relative folder", base)
		}
		base = b
	}
	joined := base + strings.TrimSuffix(rel, "/")
	out, err := cleanPrefix(joined)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(out, base) {
		return "", fmt.Errorf("prefix %q leaves the folder %q", rel, base)
	}
	return out, nil
}
