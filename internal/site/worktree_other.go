//go:build !linux

package site

import (
	"io/fs"
	"time"
)

// fileStat is the stat data git records of a file.
type fileStat struct {
	ctime, mtime time.Time
	ino          uint32
}

// statOf is not implemented here: every file is hashed.
func statOf(fs.FileInfo) (fileStat, bool) { return fileStat{}, false }
