package smoke

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the smoke: section of .github/hoist.yml. It is read here until
// the shared repository config types take it over.
type Config struct {
	Viewports []ConfigViewport `yaml:"viewports"`
	Pages     []ConfigPage     `yaml:"pages"`
	Crawl     struct {
		MaxPages int `yaml:"max_pages"`
	} `yaml:"crawl"`
	FailOn []string `yaml:"fail_on"`
}

// ConfigViewport is one entry of smoke.viewports.
type ConfigViewport struct {
	Name   string `yaml:"name"`
	Width  int    `yaml:"width"`
	Height int    `yaml:"height"`
}

// ConfigPage is one entry of smoke.pages.
type ConfigPage struct {
	Path           string `yaml:"path"`
	ExpectText     string `yaml:"expect_text"`
	ExpectSelector string `yaml:"expect_selector"`
	MaxLoadMS      int    `yaml:"max_load_ms"`
}

// allowedKeys lists the keys of each mapping of the smoke section, so a
// misspelt key is an error with its line rather than silently ignored.
var allowedKeys = map[string][]string{
	"smoke":     {"viewports", "pages", "crawl", "fail_on"},
	"viewports": {"name", "width", "height"},
	"pages":     {"path", "expect_text", "expect_selector", "max_load_ms"},
	"crawl":     {"max_pages"},
}

// LoadConfig reads the smoke section of a hoist.yml file. A file without
// one gives an empty Config.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses the smoke section of a hoist.yml document.
func ParseConfig(doc []byte) (Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return Config{}, err
	}
	if len(root.Content) == 0 {
		return Config{}, nil
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return Config{}, fmt.Errorf("line %d: the file must be a mapping", top.Line)
	}
	var smoke *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "smoke" {
			smoke = top.Content[i+1]
		}
	}
	if smoke == nil {
		return Config{}, nil
	}
	if err := checkKeys("smoke", smoke); err != nil {
		return Config{}, err
	}
	var c Config
	if err := smoke.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("smoke: %w", err)
	}
	return c, nil
}

func checkKeys(section string, n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		var errs []error
		for _, item := range n.Content {
			errs = append(errs, checkKeys(section, item))
		}
		return errors.Join(errs...)
	case yaml.MappingNode:
		allowed := allowedKeys[section]
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !contains(allowed, k.Value) {
				errs = append(errs, fmt.Errorf("line %d: unknown key %q in %s (known: %s)", k.Line, k.Value, section, strings.Join(sorted(allowed), ", ")))
				continue
			}
			if _, nested := allowedKeys[k.Value]; nested {
				errs = append(errs, checkKeys(k.Value, n.Content[i+1]))
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// Apply copies the config into opts; fields already set in opts (from
// command-line flags) win.
func (c Config) Apply(opts *Options) error {
	if len(opts.Pages) == 0 {
		for _, p := range c.Pages {
			opts.Pages = append(opts.Pages, Page{Path: p.Path, ExpectText: p.ExpectText, ExpectSelector: p.ExpectSelector, MaxLoadMS: p.MaxLoadMS})
		}
	}
	if len(opts.Viewports) == 0 {
		for _, v := range c.Viewports {
			opts.Viewports = append(opts.Viewports, Viewport{Name: v.Name, Width: v.Width, Height: v.Height})
		}
	}
	if opts.Crawl.MaxPages == 0 {
		opts.Crawl.MaxPages = c.Crawl.MaxPages
	}
	if len(opts.FailOn) == 0 {
		for i, s := range c.FailOn {
			k, err := ParseKind(s)
			if err != nil {
				return fmt.Errorf("smoke.fail_on[%d]: %w", i, err)
			}
			opts.FailOn = append(opts.FailOn, k)
		}
	}
	return nil
}
