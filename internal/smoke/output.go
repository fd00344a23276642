package smoke

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// WriteDir saves a run into dir: every screenshot in dir/artifacts (by
// SHA256), report.json and report.html (which links the screenshots
// relatively, so the folder can be opened or uploaded as it is).
func WriteDir(ctx context.Context, dir string, r *Report) error {
	store, err := NewDirStore(filepath.Join(dir, "artifacts"))
	if err != nil {
		return err
	}
	for _, p := range r.Pages {
		if p.Screenshot == nil || p.Screenshot.PNG == nil {
			continue
		}
		if _, err := store.Put(ctx, p.Screenshot.PNG); err != nil {
			return err
		}
	}
	js, err := MarshalReport(r)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, "report.json"), js); err != nil {
		return err
	}
	page, err := RenderHTML(r, func(sha string) string { return "artifacts/" + sha + ".png" })
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "report.html"), page)
}

// MarshalReport is the report's stable JSON form, indented.
func MarshalReport(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return append(b, '\n'), nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
