package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/publish"
)

// SettingsRequest changes an instance's settings at run time.
type SettingsRequest struct {
	Repo, Name string
	// Patch is a JSON merge patch (RFC 7386) of the current settings: a
	// key set to null is removed, an object is merged key by key.
	Patch map[string]any `json:"patch"`
	// RollbackTo, when set, restores that version of the history instead.
	RollbackTo int `json:"rollback_to"`
	Actor      string
}

// SettingsResult is what a change did.
type SettingsResult struct {
	Before, After Instance
	// Unchanged: the new settings equal the current ones; nothing was
	// written or purged.
	Unchanged bool
	// Written and Purged count the objects written and the paths purged
	// (one of each per stage).
	Written, Purged int
}

// ChangeSettings validates the new settings against the fleet's schema,
// writes the settings file into that instance's stages only, purges that
// one path on each stage's CDNs, and records the change (history and an
// audit row with who, before and after). No build, no commit, no other
// instance touched.
func (s *Service) ChangeSettings(ctx context.Context, req SettingsRequest) (SettingsResult, error) {
	rc, err := s.open(ctx, req.Repo)
	if err != nil {
		return SettingsResult{}, err
	}
	full := rc.repo.FullName()
	in, err := s.lookup(ctx, full, req.Name)
	if err != nil {
		return SettingsResult{}, err
	}
	if in.State != StateLive && in.State != StateSuspended {
		return SettingsResult{}, refuse(http.StatusConflict, "instance %q is %s; its settings can change once it is live", in.Name, in.State)
	}
	f := rc.cfg.Fleet
	var next map[string]any
	note := ""
	switch {
	case req.RollbackTo > 0:
		hist, err := s.store.SettingsHistory(ctx, full, in.Name)
		if err != nil {
			return SettingsResult{}, err
		}
		for _, h := range hist {
			if h.Version == req.RollbackTo {
				next = h.Settings
			}
		}
		if next == nil {
			return SettingsResult{}, refuse(http.StatusNotFound, "instance %q has no settings version %d", in.Name, req.RollbackTo)
		}
		note = fmt.Sprintf("rollback to %d", req.RollbackTo)
	case req.Patch != nil:
		next, _ = mergePatch(in.Settings, req.Patch).(map[string]any)
	default:
		return SettingsResult{}, refuse(http.StatusBadRequest, "send a patch of the settings or rollback_to a version")
	}
	resolved, err := f.Settings.Schema.Resolve(next)
	if err != nil {
		return SettingsResult{}, &Error{Status: http.StatusUnprocessableEntity, Message: "settings refused by the fleet's schema: " + err.Error(), Err: err}
	}
	res := SettingsResult{Before: in, After: in}
	if bytes.Equal(settingsJSON(resolved), settingsJSON(in.Settings)) {
		res.Unchanged = true
		return res, nil
	}
	file := SettingsFile(f, resolved)
	for _, stage := range config.FleetStageNames {
		env := StageEnv(f, stage, in.Name)
		if err := s.d.Stages.PutStageFile(ctx, full, env, file.Path, file.Body, rc.cfg.Deploy); err != nil {
			return res, err
		}
		res.Written++
		if len(env.Purge) > 0 {
			_, err := s.d.Stages.Purge(ctx, rc.repo, nil, env, publish.PurgeRequest{Env: env.Name, Paths: []string{"/" + file.Path}, Actor: req.Actor})
			if err != nil && !errors.Is(err, publish.ErrPurgeUnavailable) {
				return res, fmt.Errorf("purge %s of %s: %w", file.Path, env.Name, err)
			}
			res.Purged++
		}
	}
	before, after, err := s.store.SetSettings(ctx, full, in.Name, resolved, req.Actor, note, nil)
	if err != nil {
		return res, err
	}
	res.Before, res.After = before, after
	zerolog.Ctx(ctx).Info().Str("repo", full).Str("instance", in.Name).Str("audit", "fleet settings").Str("actor", req.Actor).
		Int("version", after.SettingsVersion).Msg("fleet instance settings changed")
	return res, nil
}

// mergePatch applies a JSON merge patch (RFC 7386) to doc. It is a dozen
// lines, smaller than a dependency for it.
func mergePatch(doc any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	d, _ := doc.(map[string]any)
	out := make(map[string]any, len(d))
	for k, v := range d {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}
