package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// RolloutSource supplies a repository's fleet rollouts (fleet/rollout).
type RolloutSource interface {
	// Rollouts returns the newest rollouts of repo, newest first, without
	// their instances.
	Rollouts(ctx context.Context, repo string, limit int) ([]RolloutView, error)
	// Rollout returns one rollout of repo with its instances, or
	// ErrNoRollout.
	Rollout(ctx context.Context, repo string, id int64) (RolloutView, error)
}

// ErrNoRollout is what a RolloutSource returns for a rollout it does not
// have in that repository.
var ErrNoRollout = errors.New("no such rollout")

// RolloutView is one release on its way to a fleet.
type RolloutView struct {
	ID      int64
	Release string
	SHA     string
	// State is running, stopped or finished; Reason says why it stopped.
	State, Reason string
	Started       time.Time
	Updated       time.Time
	// CheckRunURL is the hoist/fleet check run on GitHub, when known.
	CheckRunURL string
	Counts      map[string]int
	Instances   []RolloutInstanceView
}

// RolloutInstanceView is one instance's part of a rollout.
type RolloutInstanceView struct {
	Name, Stage, State, Reason string
	Wave                       int
	// Link and Screenshot are public addresses given by the stage's gates.
	Link, Screenshot string
	Updated          time.Time
}

type rolloutPage struct {
	Title, User, Repo string
	Rollouts          []RolloutView
	Rollout           *RolloutView
	Error             string
	Now               time.Time
}

// mountRollouts serves the rollout view: a repository's rollouts, and one
// rollout's fleet table. Both need the repository readable by the person.
func (d *Dashboard) mountRollouts(mux *http.ServeMux) {
	mux.HandleFunc("GET /fleets/{owner}/{repo}/rollouts", d.serveRollouts)
	mux.HandleFunc("GET /fleets/{owner}/{repo}/rollouts/{id}", d.serveRollouts)
}

func (d *Dashboard) serveRollouts(w http.ResponseWriter, r *http.Request) {
	who, readable, ok := d.viewer(w, r)
	if !ok {
		return
	}
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	page := &rolloutPage{Title: full + " rollouts", User: who.Login, Repo: full, Now: d.opts.Now()}
	// A repository the person cannot read is answered exactly like one
	// without rollouts.
	if _, ok := readable[strings.ToLower(full)]; !ok || d.opts.Rollouts == nil {
		page.Error = full + " has no fleet rollouts you can see"
		d.renderRollouts(w, http.StatusNotFound, page)
		return
	}
	ctx := d.logCtx(r.Context())
	if raw := r.PathValue("id"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		var v RolloutView
		if err == nil {
			v, err = d.opts.Rollouts.Rollout(ctx, full, id)
		}
		if err != nil {
			status := http.StatusNotFound
			page.Error = fmt.Sprintf("%s has no rollout %s", full, raw)
			if !errors.Is(err, ErrNoRollout) && id != 0 {
				status, page.Error = http.StatusInternalServerError, "could not read the rollout"
				zerolog.Ctx(ctx).Warn().Err(err).Str("repo", full).Msg("dashboard: rollout")
			}
			d.renderRollouts(w, status, page)
			return
		}
		page.Rollout = &v
		page.Title = fmt.Sprintf("%s rollout of %s", full, v.Release)
		d.renderRollouts(w, http.StatusOK, page)
		return
	}
	list, err := d.opts.Rollouts.Rollouts(ctx, full, 50)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("repo", full).Msg("dashboard: rollouts")
		page.Error = "could not read the rollouts"
		d.renderRollouts(w, http.StatusInternalServerError, page)
		return
	}
	page.Rollouts = list
	d.renderRollouts(w, http.StatusOK, page)
}

func (d *Dashboard) renderRollouts(w http.ResponseWriter, status int, p *rolloutPage) {
	d.renderTemplate(w, status, "rollout.html", p)
}

// stateClass colours an instance or rollout state.
func stateClass(s string) template.HTMLAttr {
	switch s {
	case "upgraded", "finished":
		return `class="ok"`
	case "failed", "stopped":
		return `class="bad"`
	case "running", "pending":
		return `class="wait"`
	}
	return `class="neutral"`
}
