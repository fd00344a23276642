package pipeline

import (
	"strings"
	"time"
)

// Trigger is what made hoist evaluate a promotion.
type Trigger string

const (
	// TriggerPush: a branch moved.
	TriggerPush Trigger = "push"
	// TriggerEvent: a check run, commit status, workflow run or review
	// arrived, or a timer (soak, hold) fired.
	TriggerEvent Trigger = "event"
	// TriggerTag: a tag matching a tag rule was pushed.
	TriggerTag Trigger = "tag"
	// TriggerCommand: a person commented /promote.
	TriggerCommand Trigger = "command"
	// TriggerManual: a person asked elsewhere (the dashboard, the command
	// line, a merge of the promotion pull request).
	TriggerManual Trigger = "manual"
)

// ByPerson reports whether a person asked for the promotion; such requests
// go ahead when auto is off, but never past a failing gate.
func (t Trigger) ByPerson() bool { return t == TriggerCommand || t == TriggerManual }

// Relation is how the source commit relates to the target branch head, in
// the words of GitHub's compare API (base = target, head = source).
type Relation string

const (
	// RelationAhead: the target head is an ancestor of the source commit,
	// so the target can be fast-forwarded.
	RelationAhead Relation = "ahead"
	// RelationIdentical: both are the same commit.
	RelationIdentical Relation = "identical"
	// RelationBehind: the source commit is an ancestor of the target head;
	// the target already contains it.
	RelationBehind Relation = "behind"
	// RelationDiverged: each has commits the other lacks; a fast-forward is
	// impossible.
	RelationDiverged Relation = "diverged"
	// RelationUnrelated: the two share no history at all (no merge base;
	// GitHub's compare answers 404 "No common ancestor"): a fast-forward is
	// impossible and no pull request can be opened between them.
	RelationUnrelated Relation = "unrelated"
	// RelationNoTarget: the target branch does not exist yet; promotion
	// creates it.
	RelationNoTarget Relation = "no_target"
)

// Commit is one commit as the pull request and messages show it.
type Commit struct {
	SHA     string
	Subject string
	// Author is the GitHub login when known, else the git author name.
	Author string
}

// CheckSource is where a check result came from.
type CheckSource string

const (
	SourceCheckRun    CheckSource = "check_run"
	SourceStatus      CheckSource = "status"
	SourceWorkflowRun CheckSource = "workflow_run"
)

// Check is one check run, commit status or workflow run on a commit, as
// GitHub reports it.
type Check struct {
	Name   string
	Source CheckSource
	// Status is queued, in_progress, waiting, pending or completed; commit
	// statuses are "pending" or "completed".
	Status string
	// Conclusion, once completed: success, failure, neutral, skipped,
	// cancelled, timed_out, action_required, stale, startup_failure; for
	// commit statuses success, failure or error.
	Conclusion string
	// App is the slug of the GitHub App that reported a check run
	// (github-actions for workflow runs).
	App string
	// Creator is the login of the account that created a commit status.
	Creator string
	// Workflow is the name of the Actions workflow whose run a check run
	// is a job of ("ci" for the job "test" shown as "ci / test"), when the
	// check run belongs to a workflow run; empty otherwise.
	Workflow string
	ID       int64
	// At is when the result was last updated; the newest result of a name
	// within a source is the one that counts.
	At  time.Time
	URL string
}

// Review is one review of the promotion pull request.
type Review struct {
	User string
	// State is APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED.
	State string
	// SHA is the commit the review was given on.
	SHA string
	At  time.Time
}

// Reviewer is what counts about a reviewer of the promotion pull request.
type Reviewer struct {
	// Permission is the reviewer's permission on the repository (admin,
	// maintain, write, triage, read or none; a custom role by its base).
	Permission string
	// InTeam is set when the reviewer belongs to one of the environment's
	// teams.
	InTeam bool
}

// PullRequest is the promotion pull request of an environment.
type PullRequest struct {
	Number int
	Author string
	URL    string
}

// Hold stops promotions into an environment: who held it, why, since when
// and (optionally) until when. An expired hold no longer counts; parsing
// "for 2h" into Until is the command grammar's business.
type Hold struct {
	Env    string
	By     string
	Reason string
	Since  time.Time
	Until  *time.Time
}

// Active reports whether the hold still stops promotions at now.
func (h Hold) Active(now time.Time) bool {
	return h.Until == nil || now.Before(*h.Until)
}

// Facts are what the caller gathered about one promotion before asking
// Decide. They describe the commit to promote (SHA, normally the source
// branch head), the target branch and everything the gates read.
type Facts struct {
	// SourceHead is the commit to promote: the source branch head, the
	// tagged commit, or the commit a person named in /promote <env> <sha>.
	SourceHead string
	// SourceHeadSince is when that commit became the head of the source
	// branch; the soak gate counts from it.
	SourceHeadSince time.Time
	// TargetHead is the environment branch's head; empty when the branch
	// does not exist.
	TargetHead string
	// Relation is how SourceHead relates to TargetHead.
	Relation Relation
	// Commits are the commits the promotion brings (in SourceHead, not in
	// TargetHead), oldest first.
	Commits []Commit
	// Blocking are the commits of the target that the source lacks, when
	// the two diverged.
	Blocking []Commit
	// Rejoin: the target differs from the source only by commits hoist
	// made itself (automatic rollbacks, earlier rejoins), so Relation is
	// given as ahead and the promotion is a new commit with SourceHead's
	// tree whose parents are TargetHead and SourceHead (Decision.Rejoin).
	Rejoin bool
	// Checks are the check runs, commit statuses and workflow runs on
	// SourceHead, from any app.
	Checks []Check
	// PullRequest is the promotion pull request, if one is open, and
	// Reviews its reviews.
	PullRequest *PullRequest
	Reviews     []Review
	// Reviewers says, by lower-case login, what GitHub says of each
	// reviewer's access; a reviewer missing here counts as having none.
	Reviewers map[string]Reviewer
	// Holds on the environment (expired ones are ignored).
	Holds []Hold
	// Now is the time of the decision.
	Now time.Time
	// Trigger and Actor say what asked and who.
	Trigger Trigger
	Actor   string
	// HoistApp is the slug of hoist's own GitHub App; when set, only its
	// hoist/smoke check runs count for the smoke gate, so another app
	// cannot pass it.
	HoistApp string
	// Budget counts the environment's recorded outcomes over its failure
	// budget's window (when it has one).
	Budget BudgetFacts
}

// isBot recognises GitHub App accounts by their login.
func isBot(login string) bool {
	return strings.HasSuffix(strings.ToLower(login), "[bot]")
}
