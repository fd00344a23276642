package repoconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/gh"
)

// CheckOnPush queues the hoist/config check run of a push to the
// default branch that touches .github/hoist.yml. repo is nil when the
// configuration could not be read at all.
func (s *Loader) CheckOnPush(ctx context.Context, re RepoEvent, repo *gh.Repo, ev *github.PushEvent) error {
	branch := strings.TrimPrefix(ev.GetRef(), "refs/heads/")
	after := ev.GetAfter()
	// Other branches (those of pull requests) get the check too when their
	// commits change the file, so a mistake shows before the merge; not a
	// commit the default branch already has (a new branch made from it).
	if onDefault := branch == re.DefaultBranch; onDefault && touchesConfig(ev) || !onDefault && changesConfig(ev) && repo != nil {
		args := ConfigCheckArgs{Installation: re.Installation, Owner: re.Owner, Repo: re.Repo, SHA: after}
		check := true
		if !onDefault {
			args.DefaultBranch = re.DefaultBranch
			status, cerr := repo.CompareStatus(ctx, re.DefaultBranch, after)
			switch {
			case errors.Is(cerr, gh.ErrUnrelated):
				// A branch with its own history: every commit is new to the
				// default branch, so its config is checked (not retried).
				check = true
			case cerr != nil:
				return cerr
			default:
				check = status == "ahead" || status == "diverged"
			}
		}
		if check {
			if _, err := s.engine.Insert(ctx, args, nil); err != nil {
				return fmt.Errorf("queue %s check of %s: %w", ConfigCheckName, shortSHA(after), err)
			}
		}
	}
	return nil
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
