//go:build !unix

package store

import "context"

// lockFile is a no-op where flock is unavailable: SQLite serves one process,
// and its own locking with busy_timeout keeps two concurrent opens correct
// in all but the first migration of an empty file.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }

// tryLockFile is a no-op where flock is unavailable.
func tryLockFile(string) (func(), string, error) { return func() {}, "", nil }
