package store

import (
	"errors"
	"fmt"
)

// ErrSQLiteInUse is returned by Open with ServeAlone when another hoist serve
// process has the SQLite database.
var ErrSQLiteInUse = errors.New("SQLite serves one replica")

// serveAlone makes this process the only hoist serve on a SQLite
// database until Close, before it migrates anything. A second one is
// refused rather than sharing the file: hoist's locks on SQLite (WithLock)
// are in memory, so two processes would each think they held them. Tools
// that only read the database do not ask for it. PostgreSQL is shared by
// any number of replicas.
func (s *Store) serveAlone() error {
	path := s.path + ".serve-lock"
	unlock, heldBy, err := tryLockFile(path)
	if err != nil {
		return fmt.Errorf("store: lock %s: %w", path, err)
	}
	if unlock == nil {
		who := "another hoist serve process"
		if heldBy != "" {
			who += " (pid " + heldBy + ")"
		}
		return fmt.Errorf("store: the SQLite database %s is in use by %s: %w; to run several replicas, give every one the same PostgreSQL database (database_url, HOIST_DATABASE_URL)",
			s.path, who, ErrSQLiteInUse)
	}
	s.unlock = unlock
	return nil
}

// ServesAlone reports whether this process holds the SQLite database as
// its only hoist serve (Options.ServeAlone): then no other process runs
// its jobs, and a job it finds running at start was left by one that died.
func (s *Store) ServesAlone() bool { return s.unlock != nil }
