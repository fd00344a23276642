package emulator

// routeTable declares every REST operation the emulator serves, with the
// OpenAPI path template exactly as GitHub's description has it. Tests
// resolve each response's operation from this table to validate it.
func (s *Server) routeTable() []*route {
	const R = "/repos/{owner}/{repo}"
	repo := func(method, path string, need level, scope string, h func(*call)) *route {
		return &route{method: method, specPath: path, auth: authRepo, need: need, scope: scope, h: h}
	}
	other := func(method, path string, auth authKind, h func(*call)) *route {
		return &route{method: method, specPath: path, auth: auth, h: h}
	}
	return []*route{
		// repository
		repo("GET", R, levelRead, "metadata", getRepo),

		// git refs
		repo("GET", R+"/git/ref/{ref}", levelRead, "contents", getRef),
		repo("GET", R+"/git/matching-refs/{ref}", levelRead, "contents", matchingRefs),
		repo("POST", R+"/git/refs", levelWrite, "contents", createRef),
		repo("PATCH", R+"/git/refs/{ref}", levelWrite, "contents", updateRef),
		repo("DELETE", R+"/git/refs/{ref}", levelWrite, "contents", deleteRef),

		// git objects
		repo("GET", R+"/git/commits/{commit_sha}", levelRead, "contents", getGitCommit),
		repo("POST", R+"/git/commits", levelWrite, "contents", createGitCommit),
		repo("GET", R+"/git/trees/{tree_sha}", levelRead, "contents", getTree),
		repo("POST", R+"/git/trees", levelWrite, "contents", createTree),
		repo("GET", R+"/git/blobs/{file_sha}", levelRead, "contents", getBlob),
		repo("POST", R+"/git/blobs", levelWrite, "contents", createBlob),
		repo("GET", R+"/git/tags/{tag_sha}", levelRead, "contents", getTag),
		repo("POST", R+"/git/tags", levelWrite, "contents", createTag),

		// commits, compare, merges, branches, tags
		repo("GET", R+"/commits", levelRead, "contents", listCommits),
		repo("GET", R+"/commits/{ref}", levelRead, "contents", getCommit),
		repo("GET", R+"/commits/{commit_sha}/pulls", levelRead, "pull_requests", commitPulls),
		repo("GET", R+"/compare/{basehead}", levelRead, "contents", compareCommits),
		repo("POST", R+"/merges", levelWrite, "contents", mergeBranches),
		repo("GET", R+"/branches", levelRead, "contents", listBranches),
		repo("GET", R+"/branches/{branch}", levelRead, "contents", getBranch),
		repo("GET", R+"/tags", levelRead, "contents", listTags),

		// pulls
		repo("GET", R+"/pulls", levelRead, "pull_requests", listPulls),
		repo("POST", R+"/pulls", levelWrite, "pull_requests", createPull),
		repo("GET", R+"/pulls/{pull_number}", levelRead, "pull_requests", getPull),
		repo("PATCH", R+"/pulls/{pull_number}", levelWrite, "pull_requests", updatePull),
		repo("GET", R+"/pulls/{pull_number}/commits", levelRead, "pull_requests", pullCommits),
		repo("GET", R+"/pulls/{pull_number}/files", levelRead, "pull_requests", pullFiles),
		repo("GET", R+"/pulls/{pull_number}/merge", levelRead, "pull_requests", pullMerged),
		repo("PUT", R+"/pulls/{pull_number}/merge", levelWrite, "contents", mergePull),
		repo("PUT", R+"/pulls/{pull_number}/update-branch", levelWrite, "pull_requests", updatePullBranch),
		repo("GET", R+"/pulls/{pull_number}/reviews", levelRead, "pull_requests", listReviews),
		repo("POST", R+"/pulls/{pull_number}/reviews", levelRead, "pull_requests", createReview),
		repo("PUT", R+"/pulls/{pull_number}/reviews/{review_id}/dismissals", levelWrite, "pull_requests", dismissReview),

		// issues and comments
		repo("GET", R+"/issues", levelRead, "issues", listIssues),
		repo("POST", R+"/issues", levelRead, "issues", createIssue),
		repo("GET", R+"/issues/{issue_number}", levelRead, "issues", getIssue),
		repo("PATCH", R+"/issues/{issue_number}", levelRead, "issues", updateIssue),
		repo("GET", R+"/issues/{issue_number}/comments", levelRead, "issues", listComments),
		repo("POST", R+"/issues/{issue_number}/comments", levelRead, "issues", createComment),
		repo("GET", R+"/issues/comments", levelRead, "issues", listRepoComments),
		repo("GET", R+"/issues/comments/{comment_id}", levelRead, "issues", getComment),
		repo("PATCH", R+"/issues/comments/{comment_id}", levelRead, "issues", updateComment),
		repo("DELETE", R+"/issues/comments/{comment_id}", levelRead, "issues", deleteComment),
		repo("POST", R+"/issues/{issue_number}/labels", levelTriage, "issues", addLabels),

		// commit comments
		repo("GET", R+"/comments", levelRead, "contents", listRepoCommitComments),
		repo("GET", R+"/comments/{comment_id}", levelRead, "contents", getCommitComment),
		repo("PATCH", R+"/comments/{comment_id}", levelRead, "contents", updateCommitComment),
		repo("DELETE", R+"/comments/{comment_id}", levelRead, "contents", deleteCommitComment),
		repo("GET", R+"/commits/{commit_sha}/comments", levelRead, "contents", listCommitComments),
		repo("POST", R+"/commits/{commit_sha}/comments", levelRead, "contents", createCommitComment),

		// reactions
		repo("GET", R+"/comments/{comment_id}/reactions", levelRead, "contents", listCommitCommentReactions),
		repo("POST", R+"/comments/{comment_id}/reactions", levelRead, "contents", createCommitCommentReaction),
		repo("DELETE", R+"/comments/{comment_id}/reactions/{reaction_id}", levelRead, "contents", deleteCommitCommentReaction),
		repo("GET", R+"/issues/comments/{comment_id}/reactions", levelRead, "issues", listCommentReactions),
		repo("POST", R+"/issues/comments/{comment_id}/reactions", levelRead, "issues", createCommentReaction),
		repo("DELETE", R+"/issues/comments/{comment_id}/reactions/{reaction_id}", levelRead, "issues", deleteCommentReaction),
		repo("GET", R+"/issues/{issue_number}/reactions", levelRead, "issues", listIssueReactions),
		repo("POST", R+"/issues/{issue_number}/reactions", levelRead, "issues", createIssueReaction),
		repo("DELETE", R+"/issues/{issue_number}/reactions/{reaction_id}", levelRead, "issues", deleteIssueReaction),

		// checks
		repo("POST", R+"/check-runs", levelWrite, "checks", createCheckRun),
		repo("GET", R+"/check-runs/{check_run_id}", levelRead, "checks", getCheckRun),
		repo("PATCH", R+"/check-runs/{check_run_id}", levelWrite, "checks", updateCheckRun),
		repo("GET", R+"/check-runs/{check_run_id}/annotations", levelRead, "checks", listAnnotations),
		repo("POST", R+"/check-runs/{check_run_id}/rerequest", levelWrite, "checks", rerequestCheckRun),
		repo("GET", R+"/commits/{ref}/check-runs", levelRead, "checks", listCheckRunsForRef),
		repo("POST", R+"/check-suites", levelWrite, "checks", createCheckSuite),
		repo("GET", R+"/check-suites/{check_suite_id}", levelRead, "checks", getCheckSuite),
		repo("GET", R+"/check-suites/{check_suite_id}/check-runs", levelRead, "checks", listCheckRunsForSuite),
		repo("POST", R+"/check-suites/{check_suite_id}/rerequest", levelWrite, "checks", rerequestCheckSuite),
		repo("GET", R+"/commits/{ref}/check-suites", levelRead, "checks", listSuitesForRef),
		repo("PATCH", R+"/check-suites/preferences", levelAdmin, "checks", setSuitePreferences),

		// statuses
		repo("POST", R+"/statuses/{sha}", levelWrite, "statuses", createStatus),
		repo("GET", R+"/commits/{ref}/statuses", levelRead, "statuses", listStatuses),
		repo("GET", R+"/commits/{ref}/status", levelRead, "statuses", combinedStatus),

		// deployments
		repo("GET", R+"/deployments", levelRead, "deployments", listDeployments),
		repo("POST", R+"/deployments", levelWrite, "deployments", createDeployment),
		repo("GET", R+"/deployments/{deployment_id}", levelRead, "deployments", getDeployment),
		repo("DELETE", R+"/deployments/{deployment_id}", levelWrite, "deployments", deleteDeployment),
		repo("GET", R+"/deployments/{deployment_id}/statuses", levelRead, "deployments", listDeploymentStatuses),
		repo("POST", R+"/deployments/{deployment_id}/statuses", levelWrite, "deployments", createDeploymentStatus),
		repo("GET", R+"/deployments/{deployment_id}/statuses/{status_id}", levelRead, "deployments", getDeploymentStatus),
		repo("GET", R+"/environments", levelRead, "deployments", listEnvironments),

		// collaborators
		repo("GET", R+"/collaborators", levelRead, "metadata", listCollaborators),
		repo("GET", R+"/collaborators/{username}", levelRead, "metadata", checkCollaborator),
		repo("PUT", R+"/collaborators/{username}", levelAdmin, "administration", putCollaborator),
		repo("DELETE", R+"/collaborators/{username}", levelAdmin, "administration", deleteCollaborator),
		repo("GET", R+"/collaborators/{username}/permission", levelRead, "metadata", collaboratorPermission),

		// contents
		repo("GET", R+"/contents/{path}", levelRead, "contents", getContents),
		repo("PUT", R+"/contents/{path}", levelWrite, "contents", putContents),
		repo("DELETE", R+"/contents/{path}", levelWrite, "contents", deleteContents),
		repo("GET", R+"/readme", levelRead, "contents", getReadme),
		repo("GET", R+"/tarball/{ref}", levelRead, "contents", tarball),
		repo("GET", R+"/zipball/{ref}", levelRead, "contents", zipball),

		// dispatches
		repo("POST", R+"/dispatches", levelWrite, "contents", repositoryDispatch),
		repo("POST", R+"/actions/workflows/{workflow_id}/dispatches", levelWrite, "actions", workflowDispatch),
		repo("GET", R+"/actions/runs", levelRead, "actions", listWorkflowRuns),
		repo("GET", R+"/actions/runs/{run_id}", levelRead, "actions", getWorkflowRun),

		// apps and installations
		other("GET", "/app", authApp, getApp),
		other("GET", "/app/installations", authApp, listInstallations),
		other("GET", "/app/installations/{installation_id}", authApp, getInstallation),
		other("POST", "/app/installations/{installation_id}/access_tokens", authApp, createInstallationToken),
		repo("GET", R+"/installation", levelNone, "", getRepoInstallation),
		other("GET", "/orgs/{org}/installation", authApp, getAccountInstallation),
		other("GET", "/users/{username}/installation", authApp, getAccountInstallation),
		other("GET", "/installation/repositories", authInstallation, listInstallationRepos),
		other("GET", "/app/hook/deliveries", authApp, listDeliveries),
		other("GET", "/app/hook/deliveries/{delivery_id}", authApp, getDelivery),
		other("POST", "/app/hook/deliveries/{delivery_id}/attempts", authApp, redeliver),
		other("GET", "/rate_limit", authAny, rateLimit),
		other("POST", "/app-manifests/{code}/conversions", authAny, convertManifest),

		// the signed-in user (user-to-server and personal tokens)
		other("GET", "/user", authAny, getAuthenticatedUser),
		other("GET", "/user/installations", authAny, listUserInstallations),
		other("GET", "/user/installations/{installation_id}/repositories", authAny, listUserInstallationRepos),

		// teams
		other("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", authAny, getTeamMembership),
	}
}

// RouteInfo names one REST operation the emulator serves.
type RouteInfo struct {
	Method string
	Path   string // OpenAPI path template
}

// Routes lists the REST operations the emulator serves, for conformance
// tests and documentation.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.routes))
	for _, r := range s.routes {
		out = append(out, RouteInfo{r.method, r.specPath})
	}
	return out
}
