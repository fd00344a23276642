package deploy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestHostileTreeIsRefusedBeforeWriting crafts commits that a normal
// checkout could not produce: a symlink to /etc/passwd, and a folder named
// "..". Deploying either must fail with a clear error and write nothing.
func TestHostileTreeIsRefusedBeforeWriting(t *testing.T) {
	ctx := context.Background()
	target, counter, _ := newBucket(t)
	repo := newGitRepo(t)
	repo.commit(map[string]string{"index.html": "ok"})

	hash := func(content string) string {
		cmd := exec.Command("git", "-C", repo.dir, "hash-object", "-w", "--stdin")
		cmd.Stdin = strings.NewReader(content)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	mktree := func(lines ...string) string {
		cmd := exec.Command("git", "-C", repo.dir, "mktree")
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mktree: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	index := hash("<h1>hi</h1>")
	commitOf := func(public string) string {
		root := mktree("040000 tree " + public + "\tpublic")
		c := repo.git("commit-tree", root, "-m", "crafted")
		repo.git("update-ref", "refs/heads/main", c)
		return c
	}
	cases := map[string]struct {
		public string
		want   string
	}{
		"symlink": {mktree(
			"100644 blob "+index+"\tindex.html",
			"120000 blob "+hash("/etc/passwd")+"\tpasswd",
		), `"passwd" is a symbolic link`},
		"dotdot": {mktree(
			"100644 blob "+index+"\tindex.html",
			"040000 tree "+mktree("100644 blob "+hash("root:x:0:0")+"\tpasswd")+"\t..",
		), `"../passwd" escapes the site root`},
		"submodule": {mktree(
			"100644 blob "+index+"\tindex.html",
			"160000 commit "+repo.git("rev-parse", "HEAD")+"\tvendor",
		), `"vendor" is a submodule`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			commit := commitOf(c.public)
			tree, sha := mirrorTree(t, repo, commit)
			counter.take()
			_, err := Deploy(ctx, target, Request{Tree: tree, TreeSHA: sha, Prefix: "www/", Edition: "www"})
			var ue *UnsafeEntryError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an unsafe-entry error mentioning %s, got %v", c.want, err)
			}
			if got := counter.take(); len(got) != 0 {
				t.Fatalf("a refused tree must not reach the store at all: %v", got)
			}
			n := 0
			target.List(ctx, "", func(p []Object) error { n += len(p); return nil })
			if n != 0 {
				t.Fatal(fmt.Sprint(n, " objects written"))
			}
		})
	}
}
