package site

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// walkedFile is one non-folder entry of a site folder, with the stat data
// NewDirTreeWith needs: its mode and size for the entry, and the times and
// inode that git's index is compared with.
type walkedFile struct {
	path   string // relative to the folder, slash-separated
	size   int64
	mode   fs.FileMode
	stat   fileStat
	statOK bool
}

// walkGeneric lists every non-folder entry under root with
// filepath.WalkDir, one lstat after another, without following links.
func walkGeneric(root string) ([]walkedFile, error) {
	var out []walkedFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		w := walkedFile{path: filepath.ToSlash(rel), size: info.Size(), mode: info.Mode()}
		w.stat, w.statOK = statOf(info)
		out = append(out, w)
		return nil
	})
	return out, err
}

// notRegular is the error for an entry that is neither a regular file, a
// folder nor a symbolic link.
func notRegular(rel string, mode fs.FileMode) error {
	return fmt.Errorf("%s: not a regular file (%s)", rel, mode.Type())
}

// isRealDir reports whether root itself is a folder, not a link to one:
// the fast walk starts only from such a root, so that a root that is a
// link is read exactly as filepath.WalkDir reads it.
func isRealDir(root string) bool {
	info, err := os.Lstat(root)
	return err == nil && info.IsDir()
}
