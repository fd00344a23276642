package emulatortest

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// pathTemplate is one documented path split into segments.
type pathTemplate struct {
	path     string
	segments []segment
	methods  map[string]bool
}

type segment struct {
	literal string // for a literal segment
	param   bool   // "{name}": one non-empty segment
	multi   bool   // an x-multi-segment parameter: one or more segments
}

// multiSegmentParams names the parameters GitHub marks x-multi-segment on
// any operation of the path (refs, file paths, branch names with slashes).
func multiSegmentParams(item *openapi3.PathItem) map[string]bool {
	out := map[string]bool{}
	add := func(params openapi3.Parameters) {
		for _, p := range params {
			if p == nil || p.Value == nil || p.Value.In != openapi3.ParameterInPath {
				continue
			}
			if v, ok := p.Value.Extensions["x-multi-segment"].(bool); ok && v {
				out[p.Value.Name] = true
			}
		}
	}
	add(item.Parameters)
	for _, op := range item.Operations() {
		add(op.Parameters)
	}
	return out
}

func parseTemplate(path string, multi map[string]bool) []segment {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") && strings.Count(p, "{") == 1 {
			name := p[1 : len(p)-1]
			segs[i] = segment{param: true, multi: multi[name]}
			continue
		}
		segs[i] = segment{literal: p}
	}
	return segs
}

// MatchPath finds the path template that documents method on a concrete URL
// path ("/repos/o/r/git/refs/heads/feature/x" → "/repos/{owner}/{repo}/git/refs/{ref}").
// The query string, if any, is ignored. Parameters marked x-multi-segment
// match one or more segments, others exactly one. When several templates
// match, the one with the most literal segments wins (".../pulls/comments"
// over ".../pulls/{pull_number}"), then the one with fewer multi-segment
// parameters.
func (s *Spec) MatchPath(method, urlPath string) (specPath string, ok bool) {
	method = strings.ToUpper(method)
	if i := strings.IndexAny(urlPath, "?#"); i >= 0 {
		urlPath = urlPath[:i]
	}
	parts := strings.Split(strings.TrimPrefix(urlPath, "/"), "/")
	bestLiterals, bestMulti := -1, 0
	for _, tpl := range s.templates {
		if !tpl.methods[method] || !matchSegments(tpl.segments, parts) {
			continue
		}
		literals, multi := 0, 0
		for _, sg := range tpl.segments {
			switch {
			case !sg.param:
				literals++
			case sg.multi:
				multi++
			}
		}
		if literals > bestLiterals || (literals == bestLiterals && multi < bestMulti) {
			specPath, bestLiterals, bestMulti = tpl.path, literals, multi
		}
	}
	return specPath, bestLiterals >= 0
}

// matchSegments matches with backtracking, since a multi-segment parameter
// may sit in the middle (/branches/{branch}/protection).
func matchSegments(segs []segment, parts []string) bool {
	if len(segs) == 0 {
		return len(parts) == 0
	}
	if len(parts) == 0 {
		return false
	}
	sg := segs[0]
	switch {
	case !sg.param:
		return parts[0] == sg.literal && matchSegments(segs[1:], parts[1:])
	case !sg.multi:
		return parts[0] != "" && matchSegments(segs[1:], parts[1:])
	}
	for n := 1; n <= len(parts)-len(segs)+1; n++ {
		if parts[n-1] == "" {
			return false
		}
		if matchSegments(segs[1:], parts[n:]) {
			return true
		}
	}
	return false
}
