package smokegate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
)

// artifactStore opens where screenshots are kept: the s3 deploy target
// named by smoke.artifacts_target, whose client (endpoint, path style,
// credentials) is the one deploys use; else the folder smoke.artifacts_dir;
// else, on PostgreSQL, the database.
//
// Why the database by default on PostgreSQL: replicas share nothing else,
// and a screenshot URL is handed to GitHub and people, who may reach any
// replica. The database is already shared, backed up and pruned by one
// replica, and screenshots are small, content-named and written once per
// run, so keeping them there needs no new service or setting; a large
// installation names an s3 target instead. A folder stays the default on
// SQLite, which serves one replica.
func (s *Gate) artifactStore(cfg *serverconfig.Server) (smoke.ArtifactStore, error) {
	name := cfg.Smoke.ArtifactsTarget
	if name == "" && cfg.Smoke.ArtifactsDir == "" && s.store != nil {
		return dbArtifacts{s.store}, nil
	}
	if name == "" {
		return smoke.NewDirStore(cfg.Smoke.ArtifactsDir)
	}
	// Opening a target only reads configuration; nothing is sent yet.
	t, tc, err := s.targets.OpenTarget(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("smoke.artifacts_target %s: %w", name, err)
	}
	st, ok := t.(*deploy.S3Target)
	if !ok {
		return nil, fmt.Errorf("smoke.artifacts_target %s: not an s3 target", name)
	}
	return smoke.NewS3Store(st.Client(), tc.Bucket, cfg.Smoke.ArtifactsPrefix), nil
}

// addPruners registers the retention of screenshots (retention.artifacts)
// and git mirrors (retention.mirrors). An S3 or database artifact store is
// shared by every replica and pruned by one of them; a folder and the mirrors are
// this process's own and pruned by it.
func (s *Gate) addPruners(cfg *serverconfig.Server, e *jobs.Engine) {
	if age := cfg.Retention.Artifacts.MaxAge; age > 0 {
		e.AddPruner("artifacts", cfg.Smoke.ArtifactsTarget != "" || cfg.Smoke.ArtifactsDir == "", func(ctx context.Context) (map[string]int64, error) {
			s.smoke.mu.Lock()
			p, ok := s.smoke.artifacts.(smoke.ArtifactPruner)
			s.smoke.mu.Unlock()
			if !ok {
				return nil, nil
			}
			n, err := p.Prune(ctx, time.Now().Add(-age))
			return map[string]int64{"artifacts": n}, err
		})
	}
	if age := cfg.Retention.Mirrors.MaxAge; age > 0 {
		e.AddPruner("mirrors", false, func(ctx context.Context) (map[string]int64, error) {
			n, err := site.PruneMirrors(ctx, cfg.DataDir, time.Now().Add(-age), s.forgetMirror)
			return map[string]int64{"mirrors": n}, err
		})
	}
}

// forgetMirror closes and drops an open mirror before retention deletes it;
// the next job that needs it opens (and fetches) it afresh.
func (s *Gate) forgetMirror(owner, repo string) {
	st := &s.smoke
	st.mu.Lock()
	defer st.mu.Unlock()
	if m, ok := st.mirrors[owner+"/"+repo]; ok {
		_ = m.Close()
		delete(st.mirrors, owner+"/"+repo)
	}
}

// dbArtifacts keeps screenshots in the store's smoke_artifacts table.
type dbArtifacts struct{ st *store.Store }

var (
	_ smoke.ArtifactStore  = dbArtifacts{}
	_ smoke.ArtifactPruner = dbArtifacts{}
)

func (a dbArtifacts) Put(ctx context.Context, png []byte) (string, error) {
	sum := sha256.Sum256(png)
	sha := hex.EncodeToString(sum[:])
	if err := a.st.PutArtifact(ctx, sha, png, smoke.ArtifactRefresh); err != nil {
		return "", err
	}
	return sha, nil
}

func (a dbArtifacts) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	if !smoke.ValidArtifactSHA(sha) {
		return nil, &fs.PathError{Op: "open", Path: sha, Err: fs.ErrNotExist}
	}
	png, err := a.st.Artifact(ctx, sha)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &fs.PathError{Op: "open", Path: sha, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, err
	}
	// A ReadSeeker, so the handler answers ranges and conditional GETs.
	return readSeekNopCloser{bytes.NewReader(png)}, nil
}

func (a dbArtifacts) Prune(ctx context.Context, before time.Time) (int64, error) {
	return a.st.PruneArtifacts(ctx, before)
}

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }
