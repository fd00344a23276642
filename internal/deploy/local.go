package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hoist-dev/hoist/internal/site"
)

// LocalTarget deploys to a folder, the embedded default: each key is a file
// under the folder. Headers are not stored; a web server in front of the
// folder decides them.
type LocalTarget struct {
	root string
}

// NewLocalTarget opens (and creates) the folder.
func NewLocalTarget(dir string) (*LocalTarget, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local target %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local target %s: %w", dir, err)
	}
	return &LocalTarget{root: abs}, nil
}

func (t *LocalTarget) String() string { return "file://" + filepath.ToSlash(t.root) }

func (t *LocalTarget) file(key string) (string, error) {
	if !fs.ValidPath(key) || key == "." {
		return "", fmt.Errorf("key %q: not a clean relative path", key)
	}
	return filepath.Join(t.root, filepath.FromSlash(key)), nil
}

// Put writes to a temporary file and renames it, so a reader never sees a
// half-written file.
func (t *LocalTarget) Put(ctx context.Context, key string, body io.Reader, o PutOptions) error {
	name, err := t.file(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".hoist-tmp-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	n, err := io.Copy(tmp, body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && o.Size >= 0 && n != o.Size {
		err = fmt.Errorf("wrote %d bytes, expected %d", n, o.Size)
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (t *LocalTarget) Copy(ctx context.Context, src, dst string, o PutOptions) error {
	name, err := t.file(src)
	if err != nil {
		return err
	}
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer f.Close()
	o.Size = -1
	return t.Put(ctx, dst, f, o)
}

func (t *LocalTarget) Delete(ctx context.Context, keys []string) (int, error) {
	for _, k := range keys {
		name, err := t.file(k)
		if err != nil {
			return 0, err
		}
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("delete %s: %w", k, err)
		}
		// Drop folders the deletion emptied, up to the root.
		for d := filepath.Dir(name); d != t.root && strings.HasPrefix(d, t.root); d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
	return (len(keys) + 999) / 1000, nil
}

// List walks the folder under prefix and hashes each file as a git blob,
// which is what a first deploy compares.
func (t *LocalTarget) List(ctx context.Context, prefix string, fn func([]Object) error) error {
	start := t.root
	if dir := path.Dir(prefix + "x"); dir != "." {
		var err error
		if start, err = t.file(dir); err != nil {
			return err
		}
	}
	var objs []Object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".hoist-tmp-") {
			return nil
		}
		rel, err := filepath.Rel(t.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		sha, err := site.BlobSHA(f, info.Size())
		if err != nil {
			return fmt.Errorf("hash %s: %w", key, err)
		}
		objs = append(objs, Object{Key: key, Size: info.Size(), GitBlob: sha})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for len(objs) > 0 {
		n := min(len(objs), 1000)
		if err := fn(objs[:n]); err != nil {
			return err
		}
		objs = objs[n:]
	}
	return nil
}

func (t *LocalTarget) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := t.file(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return f, err
}

func (t *LocalTarget) Head(ctx context.Context, key string) (ObjectMeta, error) {
	name, err := t.file(key)
	if err != nil {
		return ObjectMeta{}, err
	}
	info, err := os.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return ObjectMeta{}, fmt.Errorf("head %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return ObjectMeta{}, err
	}
	return ObjectMeta{Size: info.Size()}, nil
}
