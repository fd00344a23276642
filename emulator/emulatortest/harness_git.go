package emulatortest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// PushCommits pushes n new commits to branch of fullName in one git push,
// as token's user: on top of the branch's head, or as a new history when
// the branch does not exist. Each commit rewrites n.txt ("change i"). The
// commits are made with one git fast-import, so hundreds take a moment.
// It returns the new head.
func (h *Harness) PushCommits(fullName, token, branch string, n int) string {
	h.t.Helper()
	dir, err := os.MkdirTemp("", "ghemu-push-")
	if err != nil {
		h.t.Fatalf("emulator: %v", err)
	}
	defer os.RemoveAll(dir)
	git := func(stdin string, args ...string) string {
		h.t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.t.Fatalf("emulator: git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	url := h.GitURL(fullName, token)
	git("", "init", "-q", "--bare", ".")
	parent := ""
	if out := git("", "ls-remote", url, "refs/heads/"+branch); out != "" {
		git("", "fetch", "-q", url, "refs/heads/"+branch)
		parent, _, _ = strings.Cut(out, "\t")
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		msg := fmt.Sprintf("change %d", i)
		fmt.Fprintf(&b, "commit refs/heads/%s\ncommitter Alice <alice@example.com> %d +0000\ndata %d\n%s\n", branch, 1700000000+i, len(msg), msg)
		if i == 1 && parent != "" {
			fmt.Fprintf(&b, "from %s\n", parent)
		}
		body := fmt.Sprintf("%d\n", i)
		fmt.Fprintf(&b, "M 644 inline n.txt\ndata %d\n%s\n", len(body), body)
	}
	git(b.String(), "fast-import", "--quiet", "--force")
	git("", "push", "-q", url, "refs/heads/"+branch+":refs/heads/"+branch)
	return git("", "rev-parse", "refs/heads/"+branch)
}
