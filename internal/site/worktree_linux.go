package site

import (
	"io/fs"
	"syscall"
	"time"
)

// fileStat is the stat data git records of a file, as this system gives it.
type fileStat struct {
	ctime, mtime time.Time
	ino          uint32 // truncated as git truncates it
}

func statOf(info fs.FileInfo) (fileStat, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}, false
	}
	return fileStat{
		ctime: time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
		mtime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		ino:   uint32(st.Ino),
	}, true
}
