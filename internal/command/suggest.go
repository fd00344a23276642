package command

import (
	"sort"
	"strings"
)

// distance is the optimal-string-alignment distance between a and b (the
// Levenshtein distance that also counts swapping two neighbours as one
// edit), over runes. Hand-written because it is twenty lines over words of a
// few letters and the module graph has no library for it.
func distance(a, b string) int { return distanceAtMost(a, b, -1) }

// distanceAtMost is distance, except that it may stop early and return
// limit+1 once the distance is certain to exceed limit (no limit when negative).
func distanceAtMost(a, b string, limit int) int {
	if isASCII(a) && isASCII(b) {
		return osa([]byte(a), []byte(b), limit)
	}
	return osa([]rune(a), []rune(b), limit)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func osa[T comparable](a, b []T, limit int) int {
	// Three rows: two back (for transpositions), one back, current; on the
	// stack for the short words this compares.
	var buf [3 * 32]int
	n := len(b) + 1
	rows := buf[:0]
	if 3*n > len(buf) {
		rows = make([]int, 3*n)
	} else {
		rows = buf[:3*n]
	}
	prev2, prev, cur := rows[:n], rows[n:2*n], rows[2*n:]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if limit >= 0 && rowMin > limit {
			// Every later row is at least as large as this one's minimum.
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
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
	for _, s := range specs {
		v := string(s.Verb)
		budget := typoBudget(len(v))
		// The lengths alone rule most words out, without computing a distance:
		// a comment can hold thousands of other bots' slash-words.
		if abs(len(word)-len(v)) > budget {
			continue
		}
		if distanceAtMost(word, v, budget) <= budget {
			return true
		}
	}
	return false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
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
		case abs(len(lw)-len(lc)) <= 2*typoBudget(len(lc)) && distance(lw, lc) <= typoBudget(len([]rune(c))):
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
