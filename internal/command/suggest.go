package command

import (
	"sort"
	"strings"
)

// distance is the optimal-string-alignment distance between a and b (the
// Levenshtein distance that also counts swapping two neighbours as one
// edit), over runes. Hand-written because it is twenty lines over words of a
// few letters and the module graph has no library for it.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: two back (for transpositions), one back, current.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// typoBudget is how many edits still count as a typo of a word of n letters.
func typoBudget(n int) int {
	if n <= 4 {
		return 1
	}
	return 2
}

// isNearVerb reports whether a short-form word is a typo of a verb, so that
// `/promot` gets a "did you mean" while other bots' `/assign` is left alone.
func isNearVerb(word string) bool {
	for _, v := range verbNames() {
		if distance(word, v) <= typoBudget(len(v)) {
			return true
		}
	}
	return false
}

// suggest returns the candidates close to word, best first: a case-only
// difference, then typos by distance, then (when prefixes is set) candidates
// that word is a prefix of (`prod` for `production`).
func suggest(word string, candidates []string, prefixes bool) []string {
	type scored struct {
		s     string
		score int
	}
	var found []scored
	lw := strings.ToLower(word)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		switch {
		case c == word:
			continue
		case lc == lw:
			found = append(found, scored{c, 0})
		case distance(lw, lc) <= typoBudget(len([]rune(c))):
			found = append(found, scored{c, distance(lw, lc)})
		case prefixes && len(lw) >= 2 && strings.HasPrefix(lc, lw):
			found = append(found, scored{c, 10})
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].score < found[j].score })
	out := make([]string, 0, len(found))
	for _, f := range found {
		out = append(out, f.s)
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}
