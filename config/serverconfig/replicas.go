package serverconfig

import (
	"fmt"
	"sort"
	"strings"
)

// Shared reports whether the server's database may be shared by several
// replicas of hoist serve: PostgreSQL may, the SQLite file in the data
// folder may not.
func (cfg *Server) Shared() bool { return cfg.DatabaseURL != "" }

// ReplicaWarnings names what would differ between replicas sharing this
// server's PostgreSQL database: state kept on one replica's disk that a
// person or GitHub is handed (screenshots, local deploy targets). hoist
// serve logs each at start. They are warnings, not refusals: one replica
// on PostgreSQL is a sound setup, and hoist cannot tell how many will run.
func (cfg *Server) ReplicaWarnings() []string {
	if !cfg.Shared() {
		return nil
	}
	var out []string
	// With neither smoke.artifacts_target nor smoke.artifacts_dir,
	// screenshots are kept in the shared database; a folder named by hand
	// may be a shared mount, or not.
	if cfg.Smoke.ArtifactsTarget == "" && cfg.Smoke.ArtifactsDir != "" {
		out = append(out, fmt.Sprintf("screenshots and their thumbnails are kept in %s; unless every replica mounts that same folder, "+
			"their URLs answer 404 from the others and visual comparisons miss their baseline: set smoke.artifacts_target to an s3 target, "+
			"or leave smoke.artifacts_dir unset to keep them in the database", cfg.Smoke.ArtifactsDir))
	}
	var local []string
	for name, t := range cfg.Targets {
		if t.Type == "local" {
			local = append(local, name)
		}
	}
	sort.Strings(local)
	if len(local) > 0 {
		out = append(out, fmt.Sprintf("deploy target %s is a folder on this replica's disk (local is there by default); with more than one "+
			"replica each deploy lands on whichever replica ran it and the next finds no manifest: deploy to an s3 target", strings.Join(local, ", ")))
	}
	return out
}
