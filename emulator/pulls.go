package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

func sortStrings(xs []string) { sort.Strings(xs) }

// sortedIssues lists a repository's issues and pulls by number. Callers
// hold s.mu.
func sortedIssues(r *Repo) []*Issue {
	out := make([]*Issue, 0, len(r.Issues))
	for _, is := range r.Issues {
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func (s *Server) branchSHA(r *Repo, branch string) string {
	sha, _ := s.gitFor(r).resolve("refs/heads/" + branch)
	return sha
}

// pullSimpleJSON is a pull-request-simple. Callers hold s.mu.
func (s *Server) pullSimpleJSON(r *Repo, is *Issue) obj {
	pr := is.Pull
	u := s.repoURL(r)
	html := s.baseURL() + "/" + r.FullName() + "/pull/" + fmt.Sprint(is.Number)
	self := u + "/pulls/" + fmt.Sprint(is.Number)
	issueURL := u + "/issues/" + fmt.Sprint(is.Number)
	owner := s.user(r.Owner)
	baseSHA := s.branchSHA(r, pr.Base)
	if pr.Merged && baseSHA == "" {
		baseSHA = pr.MergeCommitSHA
	}
	side := func(branch, sha string) obj {
		return obj{"label": r.Owner + ":" + branch, "ref": branch, "sha": sha, "user": s.userJSON(owner), "repo": s.repoJSON(r)}
	}
	var mergedAt any
	if pr.MergedAt != nil {
		mergedAt = ts(*pr.MergedAt)
	}
	state := is.State
	labels := []obj{}
	for _, l := range is.Labels {
		labels = append(labels, s.labelJSON(r, l))
	}
	return obj{
		"url": self, "id": pr.PullID, "node_id": nodeID("PullRequest", pr.PullID), "html_url": html,
		"diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": issueURL,
		"commits_url": self + "/commits", "review_comments_url": self + "/comments",
		"review_comment_url": u + "/pulls/comments{/number}", "comments_url": issueURL + "/comments",
		"statuses_url": u + "/statuses/" + pr.HeadSHA, "number": is.Number, "state": state, "locked": false,
		"title": is.Title, "user": s.userByLogin(is.User), "body": nullable(is.Body), "labels": labels,
		"milestone": nil, "active_lock_reason": nil, "created_at": ts(is.CreatedAt), "updated_at": ts(is.UpdatedAt),
		"closed_at": tsPtr(is.ClosedAt), "merged_at": mergedAt, "merge_commit_sha": nullable(pr.MergeCommitSHA),
		"assignee": nil, "assignees": []obj{}, "requested_reviewers": []obj{}, "requested_teams": []obj{},
		"head": side(pr.Head, pr.HeadSHA), "base": side(pr.Base, baseSHA),
		"_links": obj{
			"self": obj{"href": self}, "html": obj{"href": html}, "issue": obj{"href": issueURL},
			"comments": obj{"href": issueURL + "/comments"}, "review_comments": obj{"href": self + "/comments"},
			"review_comment": obj{"href": u + "/pulls/comments{/number}"}, "commits": obj{"href": self + "/commits"},
			"statuses": obj{"href": u + "/statuses/" + pr.HeadSHA},
		},
		"author_association": s.authorAssociation(r, is.User), "auto_merge": nil, "draft": pr.Draft,
	}
}

// pullJSON is a full pull-request. Callers hold s.mu.
func (s *Server) pullJSON(r *Repo, is *Issue) obj {
	o := s.pullSimpleJSON(r, is)
	pr := is.Pull
	g := s.gitFor(r)
	commits, additions, deletions, files := 0, 0, 0, 0
	var mergeable any
	mergeableState := "unknown"
	base := s.branchSHA(r, pr.Base)
	if pr.Merged {
		mergeable, mergeableState = nil, "unknown"
	} else if base != "" && pr.HeadSHA != "" {
		_, conflict, err := g.mergeTree(base, pr.HeadSHA)
		if err == nil {
			mergeable = !conflict
			mergeableState = "clean"
			if conflict {
				mergeableState = "dirty"
			}
		}
	}
	from := base
	if pr.Merged && pr.MergeCommitSHA != "" {
		if mc, err := g.commit(pr.MergeCommitSHA); err == nil && len(mc.Parents) > 0 {
			from = mc.Parents[0]
		}
	}
	if from != "" && pr.HeadSHA != "" {
		if mb, ok := g.mergeBase(from, pr.HeadSHA); ok {
			list, _ := g.revList(0, mb+".."+pr.HeadSHA)
			commits = len(list)
			changes, _ := g.diff(mb, pr.HeadSHA)
			files = len(changes)
			for _, ch := range changes {
				additions += ch.Additions
				deletions += ch.Deletions
			}
		}
	}
	comments := 0
	for _, cm := range r.Comments {
		if cm.Issue == is.Number {
			comments++
		}
	}
	o["merged"] = pr.Merged
	o["mergeable"] = mergeable
	o["rebaseable"] = mergeable
	o["mergeable_state"] = mergeableState
	o["merged_by"] = nil
	if pr.MergedBy != "" {
		o["merged_by"] = s.userByLogin(pr.MergedBy)
	}
	o["comments"] = comments
	o["review_comments"] = 0
	o["maintainer_can_modify"] = false
	o["commits"] = commits
	o["additions"] = additions
	o["deletions"] = deletions
	o["changed_files"] = files
	return o
}

func (c *call) pull() (*Issue, bool) {
	n, ok := c.intParam("pull_number")
	if !ok {
		return nil, false
	}
	c.s.mu.Lock()
	is := c.repo.Issues[int(n)]
	c.s.mu.Unlock()
	if is == nil || is.Pull == nil {
		c.notFound()
		return nil, false
	}
	return is, true
}

func listPulls(c *call) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	head := q.Get("head")
	if _, after, ok := strings.Cut(head, ":"); ok {
		head = after
	}
	base := q.Get("base")
	c.s.mu.Lock()
	out := []obj{}
	for _, is := range sortedIssues(c.repo) {
		if is.Pull == nil || (state != "all" && is.State != state) {
			continue
		}
		if head != "" && is.Pull.Head != head || base != "" && is.Pull.Base != base {
			continue
		}
		out = append(out, c.s.pullSimpleJSON(c.repo, is))
	}
	c.s.mu.Unlock()
	if q.Get("direction") != "asc" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	paginate(c, out)
}

// maxPullBody is GitHub's limit on a pull request's body, in characters.
const maxPullBody = 65536

var pullBodyTooLong = fieldError{Resource: "Issue", Field: "body", Code: "custom", Message: "body is too long (maximum is 65536 characters)"}

func createPull(c *call) {
	var in struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if !c.decode(&in) {
		return
	}
	if _, after, ok := strings.Cut(in.Head, ":"); ok {
		in.Head = after
	}
	g := c.git()
	var errs []fieldError
	if in.Title == "" {
		errs = append(errs, fieldError{Resource: "PullRequest", Field: "title", Code: "missing_field"})
	}
	bsha, okBase := g.resolve("refs/heads/" + in.Base)
	hsha, okHead := g.resolve("refs/heads/" + in.Head)
	if !okBase {
		errs = append(errs, fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
	}
	if !okHead {
		errs = append(errs, fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
	}
	if len(errs) > 0 {
		c.invalid("Validation Failed", errs...)
		return
	}
	if utf8.RuneCountInString(in.Body) > maxPullBody {
		c.invalid("Validation Failed", pullBodyTooLong)
		return
	}
	if g.isAncestor(hsha, bsha) {
		c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Code: "custom", Message: "No commits between " + in.Base + " and " + in.Head})
		return
	}
	if _, ok := g.mergeBase(bsha, hsha); !ok {
		// GitHub refuses a pull request between unrelated histories.
		c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Code: "custom", Message: "The " + in.Head + " branch has no history in common with " + in.Base})
		return
	}
	c.s.mu.Lock()
	for _, is := range c.repo.Issues {
		if is.Pull != nil && is.State == "open" && is.Pull.Head == in.Head && is.Pull.Base == in.Base {
			c.s.mu.Unlock()
			c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Code: "custom", Message: "A pull request already exists for " + c.repo.Owner + ":" + in.Head + "."})
			return
		}
	}
	now := c.s.now()
	c.repo.NextNumber++
	is := &Issue{
		ID: c.s.nextID(), Number: c.repo.NextNumber, Title: in.Title, Body: in.Body, User: c.actor.login(),
		State: "open", CreatedAt: now, UpdatedAt: now,
		Pull: &Pull{PullID: c.s.nextID(), Head: in.Head, Base: in.Base, HeadSHA: hsha, Draft: in.Draft},
	}
	c.repo.Issues[is.Number] = is
	body := c.s.pullJSON(c.repo, is)
	c.s.emit(c.repo, 0, "pull_request", "opened", obj{
		"number": is.Number, "pull_request": body, "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.w.Header().Set("Location", body["url"].(string))
	c.json(http.StatusCreated, body)
}

func getPull(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	c.s.mu.Lock()
	body := c.s.pullJSON(c.repo, is)
	c.s.mu.Unlock()
	c.json(http.StatusOK, body)
}

func updatePull(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Body != nil && utf8.RuneCountInString(*in.Body) > maxPullBody {
		c.invalid("Validation Failed", pullBodyTooLong)
		return
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Field: "state", Code: "invalid"})
		return
	}
	if in.Base != nil {
		if _, ok := c.git().resolve("refs/heads/" + *in.Base); !ok {
			c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
			return
		}
	}
	c.s.mu.Lock()
	if in.State != nil && *in.State == "open" && is.Pull.Merged {
		c.s.mu.Unlock()
		c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Code: "custom", Message: "Cannot reopen a merged pull request"})
		return
	}
	changes := obj{}
	if in.Title != nil && *in.Title != is.Title {
		changes["title"] = obj{"from": is.Title}
		is.Title = *in.Title
	}
	if in.Body != nil && *in.Body != is.Body {
		changes["body"] = obj{"from": is.Body}
		is.Body = *in.Body
	}
	if in.Base != nil && *in.Base != is.Pull.Base {
		changes["base"] = obj{"ref": obj{"from": is.Pull.Base}, "sha": obj{"from": c.s.branchSHA(c.repo, is.Pull.Base)}}
		is.Pull.Base = *in.Base
	}
	action := ""
	now := c.s.now()
	if in.State != nil && *in.State != is.State {
		is.State = *in.State
		if is.State == "closed" {
			is.ClosedAt, action = &now, "closed"
		} else {
			is.ClosedAt, action = nil, "reopened"
		}
	}
	is.UpdatedAt = now
	body := c.s.pullJSON(c.repo, is)
	sender := c.s.userJSON(c.actor.user)
	if len(changes) > 0 {
		c.s.emit(c.repo, 0, "pull_request", "edited", obj{"number": is.Number, "changes": changes, "pull_request": body, "repository": c.s.repoJSON(c.repo), "sender": sender})
	}
	if action != "" {
		c.s.emit(c.repo, 0, "pull_request", action, obj{"number": is.Number, "pull_request": body, "repository": c.s.repoJSON(c.repo), "sender": sender})
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}

// pullRange is the commits a pull request adds: merge base with its base
// branch (or the merge commit's first parent once merged) to its head.
func (c *call) pullRange(is *Issue) (from, to string) {
	c.s.mu.Lock()
	pr := *is.Pull
	c.s.mu.Unlock()
	g := c.git()
	base := c.s.branchSHA(c.repo, pr.Base)
	if pr.Merged && pr.MergeCommitSHA != "" {
		if mc, err := g.commit(pr.MergeCommitSHA); err == nil && len(mc.Parents) > 0 {
			base = mc.Parents[0]
		}
	}
	mb, _ := g.mergeBase(base, pr.HeadSHA)
	return mb, pr.HeadSHA
}

func pullCommits(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	from, to := c.pullRange(is)
	g := c.git()
	list, _ := g.revList(0, from+".."+to)
	// GitHub lists at most 250 commits of a pull request (the oldest);
	// the rest only through the commits list.
	if len(list) > 250 {
		list = list[:250]
	}
	out := []obj{}
	for _, sha := range pageOf(c, list) {
		if cm, err := g.commit(sha); err == nil {
			c.s.mu.Lock()
			out = append(out, c.s.commitJSON(c.repo, cm))
			c.s.mu.Unlock()
		}
	}
	c.json(http.StatusOK, out)
}

func pullFiles(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	from, to := c.pullRange(is)
	changes, _ := c.git().diff(from, to)
	paginate(c, c.diffEntries(from, to, changes))
}

func pullMerged(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	c.s.mu.Lock()
	merged := is.Pull.Merged
	c.s.mu.Unlock()
	if !merged {
		c.notFound()
		return
	}
	c.noContent()
}

func mergePull(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if !c.decode(&in) {
		return
	}
	if in.MergeMethod == "" {
		in.MergeMethod = "merge"
	}
	if in.MergeMethod != "merge" && in.MergeMethod != "squash" && in.MergeMethod != "rebase" {
		c.invalid("Validation Failed", fieldError{Resource: "PullRequest", Field: "merge_method", Code: "invalid"})
		return
	}
	defer c.lock()()
	g := c.git()
	c.s.mu.Lock()
	state, head, base, number, title := is.State, is.Pull.Head, is.Pull.Base, is.Number, is.Title
	headSHA := is.Pull.HeadSHA
	c.s.mu.Unlock()
	if cur, ok := g.resolve("refs/heads/" + head); ok {
		headSHA = cur
	}
	if state != "open" {
		c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable", nil)
		return
	}
	if in.SHA != "" && in.SHA != headSHA {
		c.fail(http.StatusConflict, "Head branch was modified. Review and try the merge again.", nil)
		return
	}
	ttl := in.CommitTitle
	var sha string
	switch in.MergeMethod {
	case "merge":
		if ttl == "" {
			ttl = fmt.Sprintf("Merge pull request #%d from %s/%s", number, c.repo.Owner, head)
		}
		msg := ttl + "\n\n" + firstNonEmpty(in.CommitMessage, title)
		var already bool
		var status int
		var text string
		sha, already, status, text = c.mergeCommit(base, headSHA, msg)
		if status != 0 {
			if status == http.StatusConflict && text == "Merge conflict" {
				c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable", nil)
				return
			}
			c.fail(status, text, nil)
			return
		}
		if already {
			c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable", nil)
			return
		}
	case "squash", "rebase":
		ref := "refs/heads/" + base
		bsha, ok := g.resolve(ref)
		if !ok {
			c.fail(http.StatusMethodNotAllowed, "Base branch does not exist", nil)
			return
		}
		if in.MergeMethod == "rebase" {
			if !g.isAncestor(bsha, headSHA) {
				c.fail(http.StatusMethodNotAllowed, "This branch can't be rebased", nil)
				return
			}
			sha = headSHA
		} else {
			tree, conflict, err := g.mergeTree(bsha, headSHA)
			if err != nil || conflict {
				c.fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable", nil)
				return
			}
			if ttl == "" {
				ttl = fmt.Sprintf("%s (#%d)", title, number)
			}
			who := c.s.actorPerson(c.actor)
			sha, err = g.commitTree(tree, []string{bsha}, ttl+"\n\n"+in.CommitMessage, who, who)
			if err != nil {
				c.fail(http.StatusInternalServerError, err.Error(), nil)
				return
			}
		}
		if err := g.updateRef(ref, sha, bsha); err != nil {
			c.fail(http.StatusConflict, "Base branch was modified. Review and try the merge again.", nil)
			return
		}
		c.s.refsChanged(c.repo, c.actor, []refUpdate{{ref, bsha, sha}})
	}
	c.s.mu.Lock()
	now := c.s.now()
	is.State, is.ClosedAt, is.UpdatedAt = "closed", &now, now
	is.Pull.Merged, is.Pull.MergedAt, is.Pull.MergedBy, is.Pull.MergeCommitSHA, is.Pull.HeadSHA = true, &now, c.actor.login(), sha, headSHA
	c.s.emit(c.repo, 0, "pull_request", "closed", obj{
		"number": is.Number, "pull_request": c.s.pullJSON(c.repo, is), "repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, obj{"sha": sha, "merged": true, "message": "Pull Request successfully merged"})
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// reviewJSON is a pull-request-review. Callers hold s.mu.
func (s *Server) reviewJSON(r *Repo, rv *Review) obj {
	html := s.baseURL() + "/" + r.FullName() + "/pull/" + fmt.Sprint(rv.Pull)
	pu := s.repoURL(r) + "/pulls/" + fmt.Sprint(rv.Pull)
	return obj{
		"id": rv.ID, "node_id": nodeID("PullRequestReview", rv.ID), "user": s.userByLogin(rv.User), "body": rv.Body,
		"state": rv.State, "html_url": html + fmt.Sprintf("#pullrequestreview-%d", rv.ID), "pull_request_url": pu,
		"_links":       obj{"html": obj{"href": html}, "pull_request": obj{"href": pu}},
		"submitted_at": ts(rv.SubmittedAt), "commit_id": rv.CommitID,
		"author_association": s.authorAssociation(r, rv.User),
	}
}

func listReviews(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	c.s.mu.Lock()
	var rs []*Review
	for _, rv := range c.repo.Reviews {
		if rv.Pull == is.Number {
			rs = append(rs, rv)
		}
	}
	sortByID(rs, func(r *Review) int64 { return r.ID })
	out := []obj{}
	for _, rv := range rs {
		out = append(out, c.s.reviewJSON(c.repo, rv))
	}
	c.s.mu.Unlock()
	paginate(c, out)
}

func createReview(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	var in struct {
		Body     string `json:"body"`
		Event    string `json:"event"`
		CommitID string `json:"commit_id"`
	}
	if !c.decode(&in) {
		return
	}
	state := map[string]string{"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED", "": "PENDING"}[in.Event]
	if state == "" {
		c.invalidSimple("Unprocessable Entity", "event must be APPROVE, REQUEST_CHANGES or COMMENT")
		return
	}
	c.s.mu.Lock()
	if strings.EqualFold(is.User, c.actor.login()) && (state == "APPROVED" || state == "CHANGES_REQUESTED") {
		c.s.mu.Unlock()
		verb := "approve"
		if state == "CHANGES_REQUESTED" {
			verb = "request changes on"
		}
		c.invalidSimple("Unprocessable Entity", "Can not "+verb+" your own pull request")
		return
	}
	if (state == "REQUEST_CHANGES" || state == "COMMENTED") && in.Body == "" {
		c.s.mu.Unlock()
		c.invalidSimple("Unprocessable Entity", "Body is required")
		return
	}
	commit := in.CommitID
	if commit == "" {
		commit = is.Pull.HeadSHA
	}
	rv := &Review{ID: c.s.nextID(), Pull: is.Number, User: c.actor.login(), Body: in.Body, State: state, CommitID: commit, SubmittedAt: c.s.now()}
	c.repo.Reviews[rv.ID] = rv
	body := c.s.reviewJSON(c.repo, rv)
	if state != "PENDING" {
		c.s.emit(c.repo, 0, "pull_request_review", "submitted", obj{
			"review": hookReview(body), "pull_request": c.s.pullSimpleJSON(c.repo, is),
			"repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
		})
	}
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}

// hookReview is a review as webhooks carry it: GitHub writes the state in
// lower case there (approved, dismissed), unlike the REST API.
func hookReview(rv obj) obj {
	out := obj{}
	for k, v := range rv {
		out[k] = v
	}
	if st, ok := rv["state"].(string); ok {
		out["state"] = strings.ToLower(st)
	}
	return out
}

// dismissReview dismisses an approval or a request for changes, as
// GitHub's "Dismiss review" does: the review itself turns DISMISSED (it
// keeps its place in the list) and a pull_request_review dismissed event
// goes out. Comments cannot be dismissed.
func dismissReview(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	id, ok := c.intParam("review_id")
	if !ok {
		return
	}
	var in struct {
		Message string `json:"message"`
		Event   string `json:"event"`
	}
	if !c.decode(&in) {
		return
	}
	if in.Message == "" {
		c.invalid("Invalid request.", fieldError{Resource: "PullRequestReview", Field: "message", Code: "missing_field"})
		return
	}
	c.s.mu.Lock()
	rv := c.repo.Reviews[id]
	if rv == nil || rv.Pull != is.Number {
		c.s.mu.Unlock()
		c.notFound()
		return
	}
	if rv.State != "APPROVED" && rv.State != "CHANGES_REQUESTED" {
		c.s.mu.Unlock()
		c.invalidSimple("Unprocessable Entity", "Can not dismiss a "+strings.ToLower(rv.State)+" pull request review")
		return
	}
	rv.State = "DISMISSED"
	body := c.s.reviewJSON(c.repo, rv)
	c.s.emit(c.repo, 0, "pull_request_review", "dismissed", obj{
		"review": hookReview(body), "pull_request": c.s.pullSimpleJSON(c.repo, is),
		"repository": c.s.repoJSON(c.repo), "sender": c.s.userJSON(c.actor.user),
	})
	c.s.mu.Unlock()
	c.s.saveLogged()
	c.json(http.StatusOK, body)
}

// updatePullBranch merges the base branch into the pull request's head
// branch, as GitHub's "Update branch" button does.
func updatePullBranch(c *call) {
	is, ok := c.pull()
	if !ok {
		return
	}
	var in struct {
		ExpectedHeadSHA string `json:"expected_head_sha"`
	}
	if !c.decode(&in) {
		return
	}
	defer c.lock()()
	c.s.mu.Lock()
	head, base, open := is.Pull.Head, is.Pull.Base, is.State == "open"
	c.s.mu.Unlock()
	g := c.git()
	hsha, ok := g.resolve("refs/heads/" + head)
	if !open || !ok {
		c.invalid("the pull request's head branch cannot be updated")
		return
	}
	if in.ExpectedHeadSHA != "" && in.ExpectedHeadSHA != hsha {
		c.invalid("expected head sha didn't match current head ref.")
		return
	}
	bsha, ok := g.resolve("refs/heads/" + base)
	if !ok || g.isAncestor(bsha, hsha) {
		c.invalid("There are no new commits on the base branch.")
		return
	}
	if _, _, status, text := c.mergeCommit(head, bsha, "Merge branch '"+base+"' into "+head); status != 0 {
		if status == http.StatusConflict {
			c.invalid("merge conflict between base and head")
			return
		}
		c.fail(status, text, nil)
		return
	}
	c.json(http.StatusAccepted, obj{"message": "Updating pull request branch.", "url": c.s.baseURL() + "/" + c.repo.FullName() + "/pull/" + fmt.Sprint(is.Number)})
}
