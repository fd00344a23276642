package gh

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
)

// IssueComment is a comment as the command replies read it back.
type IssueComment struct {
	ID     int64
	Author string
	Body   string
	URL    string
}

// FindComment returns the newest comment on issue number by author (any
// bot when empty) whose body contains marker, or nil. Hoist marks its replies so that a retried
// reply finds the one posted before a crash instead of posting another.
func (r *Repo) FindComment(ctx context.Context, number int, author, marker string) (*IssueComment, error) {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	var found *IssueComment
	for {
		cs, resp, err := r.Client.Issues.ListComments(ctx, r.Owner, r.Name, number, opts)
		if err != nil {
			return nil, fmt.Errorf("comments of #%d: %w", number, err)
		}
		for _, c := range cs {
			login := c.GetUser().GetLogin()
			byAuthor := strings.EqualFold(login, author) || (author == "" && strings.HasSuffix(strings.ToLower(login), "[bot]"))
			if byAuthor && strings.Contains(c.GetBody(), marker) {
				found = &IssueComment{ID: c.GetID(), Author: c.GetUser().GetLogin(), Body: c.GetBody(), URL: c.GetHTMLURL()}
			}
		}
		if resp.NextPage == 0 {
			return found, nil
		}
		opts.Page = resp.NextPage
	}
}

// Comment posts a comment on an issue or pull request and returns its id.
func (r *Repo) Comment(ctx context.Context, number int, body string) (int64, error) {
	c, _, err := r.Client.Issues.CreateComment(ctx, r.Owner, r.Name, number, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return 0, fmt.Errorf("comment on #%d: %w", number, err)
	}
	return c.GetID(), nil
}

// React adds a reaction (eyes, rocket, confused, …) to an issue comment.
func (r *Repo) React(ctx context.Context, commentID int64, content string) error {
	if _, _, err := r.Client.Reactions.CreateIssueCommentReaction(ctx, r.Owner, r.Name, commentID, content); err != nil {
		return fmt.Errorf("react %s to comment %d: %w", content, commentID, err)
	}
	return nil
}

// EditComment replaces the body of an issue or pull request comment;
// ErrNotFound when the comment is gone.
func (r *Repo) EditComment(ctx context.Context, id int64, body string) error {
	_, resp, err := r.Client.Issues.EditComment(ctx, r.Owner, r.Name, id, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		if status(resp) == http.StatusNotFound {
			return fmt.Errorf("edit comment %d: %w", id, ErrNotFound)
		}
		return fmt.Errorf("edit comment %d: %w", id, err)
	}
	return nil
}

// FindCommitComment returns the newest comment on commit sha by a bot
// whose body contains marker, or nil: FindComment for replies on commits.
func (r *Repo) FindCommitComment(ctx context.Context, sha, marker string) (*IssueComment, error) {
	opts := &github.ListOptions{PerPage: 100}
	var found *IssueComment
	for {
		cs, resp, err := r.Client.Repositories.ListCommitComments(ctx, r.Owner, r.Name, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("comments of commit %s: %w", sha, err)
		}
		for _, c := range cs {
			login := c.GetUser().GetLogin()
			if strings.HasSuffix(strings.ToLower(login), "[bot]") && strings.Contains(c.GetBody(), marker) {
				found = &IssueComment{ID: c.GetID(), Author: login, Body: c.GetBody(), URL: c.GetHTMLURL()}
			}
		}
		if resp.NextPage == 0 {
			return found, nil
		}
		opts.Page = resp.NextPage
	}
}

// CommitComment posts a comment on commit sha and returns its id.
func (r *Repo) CommitComment(ctx context.Context, sha, body string) (int64, error) {
	c, _, err := r.Client.Repositories.CreateComment(ctx, r.Owner, r.Name, sha, &github.RepositoryComment{Body: github.String(body)})
	if err != nil {
		return 0, fmt.Errorf("comment on commit %s: %w", sha, err)
	}
	return c.GetID(), nil
}

// ReactToCommitComment adds a reaction to a commit comment (GitHub keeps
// those apart from issue comments, with their own reactions).
func (r *Repo) ReactToCommitComment(ctx context.Context, commentID int64, content string) error {
	if _, _, err := r.Client.Reactions.CreateCommentReaction(ctx, r.Owner, r.Name, commentID, content); err != nil {
		return fmt.Errorf("react %s to commit comment %d: %w", content, commentID, err)
	}
	return nil
}
