package purge

import (
	"fmt"
	"slices"
	"strings"
)

// CloudFront collapsing.
//
// A CloudFront invalidation holds at most 3,000 exact paths and 15 wildcard
// paths in flight per distribution. When a change set needs more exact
// paths than allowed, some directories are invalidated as "/dir/*"
// instead. The choice minimises over-invalidation: the number of cached
// objects a wildcard evicts that did not change.
//
// The changed URL paths form a tree of directories. For each directory d
// the planner knows its own exact paths and the unchanged objects under it
// (from the request's inventory; without one, each directory in the tree
// is assumed to hold one unchanged object, so deeper wildcards are
// preferred). A dynamic programme over the tree keeps, for each number of
// wildcards w ≤ 15, the Pareto frontier of (exact paths, over-invalidation)
// of the subtree: either d is wildcarded (0 exact, 1 wildcard, its
// unchanged objects) or its own paths are listed and its children's
// frontiers are combined like a knapsack. At the root the point with
// exact ≤ limit and the least over-invalidation wins; ties go to fewer
// billable paths (CloudFront bills each path, a wildcard counting as one,
// beyond 1,000 free a month). A frontier larger than frontierCap points is
// thinned to the best point per bucket of exact counts, which keeps the
// programme fast on very large trees at the cost of optimality by at most
// one bucket width of exact paths.

const frontierCap = 96

type cfNode struct {
	name      string // URL path of the directory, ending in "/"
	own       []string
	children  map[string]*cfNode
	unchanged int // objects under the directory that did not change
}

// wildSet is an immutable set of wildcarded directories built by sharing.
type wildSet struct {
	dir         string
	left, right *wildSet
}

func (s *wildSet) collect(out *[]string) {
	if s == nil {
		return
	}
	if s.dir != "" {
		*out = append(*out, s.dir)
	}
	s.left.collect(out)
	s.right.collect(out)
}

type cfPoint struct {
	exact, over int
	wilds       *wildSet
}

// frontier[w] holds Pareto points with exactly w wildcards, sorted by exact
// ascending and over strictly descending.
type frontier [][]cfPoint

func planCloudFront(p *Plan, req Request, cfg CDNConfig) error {
	maxPaths := orDefault(cfg.MaxPaths, CloudFrontMaxPaths)
	maxWild := orDefault(cfg.MaxWildcards, CloudFrontMaxWildcards)
	root := urlPrefix(req.Prefix)
	var paths []string
	if req.All {
		p.Whole = true
		paths = []string{root + "*"}
		if cfg.BareDirectories && root != "/" {
			paths = append(paths, strings.TrimSuffix(root, "/"))
		}
		p.Wildcards = 1
		p.ExactPaths = len(paths) - 1
	} else {
		var err error
		paths, err = collapse(p, req, cfg.BareDirectories, root, maxPaths, maxWild)
		if err != nil {
			return err
		}
	}
	p.Batches = []Batch{{Action: ActionPaths, Items: paths}}
	p.CallerReference = callerReference(req, cfg, paths)
	if n := len(paths); n > CloudFrontFreePaths/10 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d paths: CloudFront bills each path beyond %d a month", n, CloudFrontFreePaths))
	}
	return nil
}

func collapse(p *Plan, req Request, bare bool, rootPath string, maxPaths, maxWild int) ([]string, error) {
	root := &cfNode{name: rootPath, children: map[string]*cfNode{}}
	changed := map[string]bool{}
	var outside []string // paths above the root (the bare prefix), always exact
	addURL := func(u string, n *cfNode) {
		if changed[u] {
			return
		}
		changed[u] = true
		n.own = append(n.own, u)
	}
	for _, c := range req.Changes {
		for _, u := range urlPaths(req.Prefix, c.Path, bare) {
			if !strings.HasPrefix(u, rootPath) {
				if !changed[u] {
					changed[u] = true
					outside = append(outside, u)
				}
				continue
			}
			addURL(u, nodeFor(root, u))
		}
	}
	total := len(outside)
	var all []string
	walk(root, func(n *cfNode) { total += len(n.own); all = append(all, n.own...) })
	all = append(all, outside...)
	slices.Sort(all)
	if total <= maxPaths {
		p.ExactPaths = total
		return all, nil
	}
	if len(outside)+1 > maxPaths || maxWild < 1 {
		return nil, fmt.Errorf("%d paths cannot fit %d exact paths and %d wildcards", total, maxPaths, maxWild)
	}

	// Unchanged objects per directory.
	if req.Inventory != nil {
		for _, s := range req.Inventory {
			for _, u := range urlPaths(req.Prefix, s, bare) {
				if changed[u] || !strings.HasPrefix(u, rootPath) {
					continue
				}
				if n := existingNodeFor(root, u); n != nil {
					n.unchanged++
				}
			}
		}
		sumUnchanged(root)
	} else {
		p.OverEstimated = true
		countNodes(root)
	}

	f := solve(root, maxPaths-len(outside), maxWild)
	best, bestW := cfPoint{exact: -1}, 0
	for w, pts := range f {
		for _, pt := range pts {
			if pt.exact > maxPaths-len(outside) {
				continue
			}
			if best.exact < 0 || pt.over < best.over ||
				(pt.over == best.over && pt.exact+w < best.exact+bestW) {
				best, bestW = pt, w
			}
		}
	}
	if best.exact < 0 {
		return nil, fmt.Errorf("no collapse of %d paths fits %d exact paths and %d wildcards", total, maxPaths, maxWild)
	}
	var wild []string
	best.wilds.collect(&wild)
	slices.Sort(wild)
	var out []string
	for _, u := range all {
		if !coveredByAny(u, wild) {
			out = append(out, u)
		}
	}
	for _, d := range wild {
		out = append(out, d+"*")
	}
	p.ExactPaths = len(out) - len(wild)
	p.Wildcards = len(wild)
	p.OverInvalidated = best.over
	if len(wild) == 1 && wild[0] == rootPath {
		p.Whole = true
	}
	return out, nil
}

func coveredByAny(u string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(u, d) {
			return true
		}
	}
	return false
}

// nodeFor returns (creating) the directory node that a wildcard must name
// to cover u: the directory containing u, where "/a/b/" belongs to /a/b/.
func nodeFor(root *cfNode, u string) *cfNode {
	rest := strings.TrimPrefix(u, root.name)
	n := root
	for {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return n
		}
		seg := rest[:i+1]
		child := n.children[seg]
		if child == nil {
			child = &cfNode{name: n.name + seg, children: map[string]*cfNode{}}
			n.children[seg] = child
		}
		n, rest = child, rest[i+1:]
	}
}

// existingNodeFor is nodeFor without creating: the deepest existing
// directory containing u, since a wildcard there would evict u.
func existingNodeFor(root *cfNode, u string) *cfNode {
	rest := strings.TrimPrefix(u, root.name)
	n := root
	for {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return n
		}
		child := n.children[rest[:i+1]]
		if child == nil {
			return n
		}
		n, rest = child, rest[i+1:]
	}
}

func walk(n *cfNode, fn func(*cfNode)) {
	fn(n)
	for _, c := range sortedChildren(n) {
		walk(c, fn)
	}
}

func sortedChildren(n *cfNode) []*cfNode {
	out := make([]*cfNode, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *cfNode) int { return strings.Compare(a.name, b.name) })
	return out
}

func sumUnchanged(n *cfNode) int {
	for _, c := range n.children {
		n.unchanged += sumUnchanged(c)
	}
	return n.unchanged
}

func countNodes(n *cfNode) int {
	n.unchanged = 1
	for _, c := range n.children {
		n.unchanged += countNodes(c)
	}
	return n.unchanged
}

// solve returns the frontier of n's subtree.
func solve(n *cfNode, maxExact, maxWild int) frontier {
	acc := make(frontier, maxWild+1)
	acc[0] = []cfPoint{{exact: len(n.own)}}
	for _, c := range sortedChildren(n) {
		acc = combine(acc, solve(c, maxExact, maxWild), maxExact, maxWild)
	}
	// Or wildcard the whole directory.
	acc[1] = insertPoint(acc[1], cfPoint{exact: 0, over: n.unchanged, wilds: &wildSet{dir: n.name}})
	for w := range acc {
		acc[w] = thin(acc[w], maxExact)
	}
	return acc
}

func combine(a, b frontier, maxExact, maxWild int) frontier {
	out := make(frontier, maxWild+1)
	for wa, pa := range a {
		for wb, pb := range b {
			if wa+wb > maxWild || len(pa) == 0 || len(pb) == 0 {
				continue
			}
			var pts []cfPoint
			for _, x := range pa {
				for _, y := range pb {
					e := x.exact + y.exact
					if e > maxExact {
						continue
					}
					w := x.wilds
					if y.wilds != nil {
						if w == nil {
							w = y.wilds
						} else {
							w = &wildSet{left: x.wilds, right: y.wilds}
						}
					}
					pts = append(pts, cfPoint{exact: e, over: x.over + y.over, wilds: w})
				}
			}
			out[wa+wb] = pareto(append(out[wa+wb], pts...))
		}
	}
	return out
}

func insertPoint(pts []cfPoint, p cfPoint) []cfPoint {
	return pareto(append(slices.Clone(pts), p))
}

// pareto keeps the points not dominated in (exact, over), sorted by exact.
func pareto(pts []cfPoint) []cfPoint {
	slices.SortStableFunc(pts, func(a, b cfPoint) int {
		if a.exact != b.exact {
			return a.exact - b.exact
		}
		return a.over - b.over
	})
	out := pts[:0]
	for _, p := range pts {
		if len(out) > 0 && p.over >= out[len(out)-1].over {
			continue
		}
		out = append(out, p)
	}
	return out
}

// thin bounds a frontier to frontierCap points: the best (least over)
// point of each bucket of exact counts.
func thin(pts []cfPoint, maxExact int) []cfPoint {
	if len(pts) <= frontierCap {
		return pts
	}
	width := (maxExact + frontierCap) / frontierCap
	out := pts[:0:0]
	for _, p := range pts {
		// Sorted by exact with over decreasing: the last point of a bucket
		// is its best.
		if len(out) > 0 && out[len(out)-1].exact/width == p.exact/width {
			out[len(out)-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}
