package safety

import (
	"sort"
	"time"
)

// Measures are the delivery measures of one repository and environment
// over a window, computed by Compute.
type Measures struct {
	Repo string `json:"repo"`
	Env  string `json:"env"`
	// Deployments is how many changes landed (deploys that succeeded,
	// restores excluded); PerDay divides it by the window's days.
	Deployments int     `json:"deployments"`
	PerDay      float64 `json:"deployments_per_day"`
	// LeadTimes are first commit → live, one per landed deploy whose
	// first commit time is known, in the order they landed.
	LeadTimes      []time.Duration `json:"-"`
	LeadTimeMedian time.Duration   `json:"-"`
	// Changes are the distinct commits deployed (landed or not);
	// FailedChanges those of them a failed deploy, a failed verification
	// or a rollback names. ChangeFailureRate is their ratio (0 without
	// changes).
	Changes           int     `json:"changes"`
	FailedChanges     int     `json:"failed_changes"`
	ChangeFailureRate float64 `json:"change_failure_rate"`
	// Restores are the incidents that ended in the window, each from the
	// first failure of the live environment to the next deploy that
	// landed or verification that passed; Open is set while one has not
	// ended.
	Restores      []time.Duration `json:"-"`
	RestoreMedian time.Duration   `json:"-"`
	Open          bool            `json:"incident_open"`
	// Failures and Samples count every outcome of the window, of every
	// kind: the failure budget's rate is Failures/Samples.
	Failures int `json:"failures"`
	Samples  int `json:"samples"`
}

// Incident is one stretch during which the live environment was failing.
type Incident struct {
	Repo, Env  string
	Start, End time.Time // End zero while open
}

// Incidents finds the incidents of outs (any order, any environments):
// one starts at a failed deploy, failed verification or rollback while
// none is open, and ends at the next deploy that landed or verification
// that passed in the same environment.
func Incidents(outs []Outcome) []Incident {
	byEnv := group(outs)
	var out []Incident
	for _, k := range sortedKeys(byEnv) {
		var open *Incident
		for _, o := range byEnv[k] {
			switch {
			case o.breaks() && open == nil:
				open = &Incident{Repo: o.Repo, Env: o.Env, Start: o.At}
			case o.restores() && open != nil:
				open.End = o.At
				out = append(out, *open)
				open = nil
			}
		}
		if open != nil {
			out = append(out, *open)
		}
	}
	return out
}

// Compute returns the measures of every repository and environment that
// has outcomes in [since, until), sorted by repository and environment.
// Incidents are found over all of outs (one may have begun before since)
// and counted when they end inside the window.
func Compute(outs []Outcome, since, until time.Time) []Measures {
	byEnv := group(outs)
	days := until.Sub(since).Hours() / 24
	var res []Measures
	for _, k := range sortedKeys(byEnv) {
		env := byEnv[k]
		m := Measures{Repo: k.repo, Env: k.env}
		changes := map[string]bool{}
		failed := map[string]bool{}
		seen := false
		for _, o := range env {
			if o.At.Before(since) || !o.At.Before(until) {
				continue
			}
			seen = true
			m.Samples++
			if !o.OK {
				m.Failures++
			}
			if o.change() {
				changes[o.SHA] = true
				if o.OK {
					m.Deployments++
					if !o.FirstCommitAt.IsZero() && !o.FirstCommitAt.After(o.At) {
						m.LeadTimes = append(m.LeadTimes, o.At.Sub(o.FirstCommitAt))
					}
				}
			}
			if o.breaks() && o.SHA != "" {
				failed[o.SHA] = true
			}
		}
		for _, inc := range Incidents(env) {
			if inc.End.IsZero() {
				m.Open = true
				seen = true
				continue
			}
			if !inc.End.Before(since) && inc.End.Before(until) {
				m.Restores = append(m.Restores, inc.End.Sub(inc.Start))
			}
		}
		if !seen {
			continue
		}
		m.Changes = len(changes)
		for sha := range failed {
			if changes[sha] {
				m.FailedChanges++
			}
		}
		if m.Changes > 0 {
			m.ChangeFailureRate = float64(m.FailedChanges) / float64(m.Changes)
		}
		if days > 0 {
			m.PerDay = float64(m.Deployments) / days
		}
		m.LeadTimeMedian = Median(m.LeadTimes)
		m.RestoreMedian = Median(m.Restores)
		res = append(res, m)
	}
	return res
}

// BudgetCounts counts the outcomes of one environment at or after since:
// failures and all (the samples of its failure budget).
func BudgetCounts(outs []Outcome, repo, env string, since time.Time) (failures, samples int) {
	for _, o := range outs {
		if o.Repo != repo || o.Env != env || o.At.Before(since) {
			continue
		}
		samples++
		if !o.OK {
			failures++
		}
	}
	return failures, samples
}

// Median is the middle duration (the lower of the two middle ones for an
// even count, so that it is always a measured value); 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2]
}

type envKey struct{ repo, env string }

// group splits outs by repository and environment, each in time order
// (ties in the order given).
func group(outs []Outcome) map[envKey][]Outcome {
	m := map[envKey][]Outcome{}
	for _, o := range outs {
		k := envKey{o.Repo, o.Env}
		m[k] = append(m[k], o)
	}
	for _, v := range m {
		sort.SliceStable(v, func(i, j int) bool { return v[i].At.Before(v[j].At) })
	}
	return m
}

func sortedKeys(m map[envKey][]Outcome) []envKey {
	keys := make([]envKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].repo != keys[j].repo {
			return keys[i].repo < keys[j].repo
		}
		return keys[i].env < keys[j].env
	})
	return keys
}
