//go:build !linux

package site

// walkFolder lists every non-folder entry under root.
func walkFolder(root string) ([]walkedFile, error) { return walkGeneric(root) }
