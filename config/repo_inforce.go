package config

// RepoConfigSource says which configuration ChooseRepoConfig put in force.
type RepoConfigSource int

const (
	// RepoConfigNone: the repository has no configuration (and no good one
	// before); hoist leaves it alone.
	RepoConfigNone RepoConfigSource = iota
	// RepoConfigNew: the newly read configuration is valid and in force.
	RepoConfigNew
	// RepoConfigLastGood: the new configuration has mistakes; the last
	// valid one stays in force until they are fixed.
	RepoConfigLastGood
	// RepoConfigBroken: the new configuration has mistakes and there is no
	// earlier valid one; hoist does nothing until it is fixed.
	RepoConfigBroken
)

func (s RepoConfigSource) String() string {
	switch s {
	case RepoConfigNew:
		return "new"
	case RepoConfigLastGood:
		return "last good"
	case RepoConfigBroken:
		return "broken"
	}
	return "none"
}

// RepoConfigChoice is the configuration in force and why.
type RepoConfigChoice struct {
	// Config is the configuration in force; nil for RepoConfigNone and
	// RepoConfigBroken.
	Config *RepoConfig
	Source RepoConfigSource
	// Err holds the new file's mistakes (for the hoist/config check run)
	// when Source is RepoConfigLastGood or RepoConfigBroken.
	Err error
}

// ChooseRepoConfig decides which configuration is in force after a new
// version of the file was read: the result of LoadRepoConfig (parsed,
// parseErr), or parsed == nil and parseErr == nil when the file does not
// exist. A broken file never replaces a good one: a typo pushed to the
// default branch must not stop promotions or, worse, drop their gates, so
// the last good configuration stays in force and the mistakes are reported.
// A deleted file means the repository no longer wants hoist: nothing is in
// force, whatever was before.
func ChooseRepoConfig(lastGood, parsed *RepoConfig, parseErr error) RepoConfigChoice {
	switch {
	case parseErr == nil && parsed != nil:
		return RepoConfigChoice{Config: parsed, Source: RepoConfigNew}
	case parseErr == nil:
		return RepoConfigChoice{Source: RepoConfigNone}
	case lastGood != nil:
		return RepoConfigChoice{Config: lastGood, Source: RepoConfigLastGood, Err: parseErr}
	}
	return RepoConfigChoice{Source: RepoConfigBroken, Err: parseErr}
}
