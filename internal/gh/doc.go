// Package gh is hoist's edge to the GitHub API: GitHub App authentication
// (app JWT, cached installation tokens) through go-githubapp and
// ghinstallation, a user agent with hoist's version, a client middleware
// that respects GitHub's primary and secondary rate limits, the repository
// configuration read from GitHub (repoconfig.go), and Repo, the narrow view
// of one repository the rest of hoist calls: refs, commits and checks
// (repo.go), pull requests and reviews (repo.go, pulls.go), comments and
// reactions (comments.go), and who may do what (access.go).
package gh
