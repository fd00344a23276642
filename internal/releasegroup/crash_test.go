package releasegroup_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/releasegroup"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestMain lets the test binary double as hoist serve for the crash test:
// with HOIST_TEST_CHILD=group it runs hoist, which stops (forever) right
// after the first member of a group promotion moved, to be killed there.
func TestMain(m *testing.M) {
	if os.Getenv("HOIST_TEST_CHILD") == "group" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := serverconfig.LoadServer(os.Getenv("HOIST_TEST_SERVER_FILE"), os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	servetest.Tune(cfg)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	hooks := app.Hooks{GroupMoved: func(ctx context.Context, repo string) {
		fmt.Println("MOVED", repo)
		select {} // stopped here until killed
	}}
	srv, _, err := app.Assemble(ctx, cfg, server.Options{Logger: &log, Listener: ln, JobsClientID: "group-crash-child"}, hooks)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("READY")
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// runUntilMoved stops the site's hoist, starts hoist as a process of its
// own on the same address and data, runs act, waits until the process has
// moved one member of a group promotion and kills it with SIGKILL; it
// returns the member that moved.
func runUntilMoved(t *testing.T, p *pair, act func()) string {
	t.Helper()
	p.StopHoist()
	file, env := p.Settings()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOIST_TEST_CHILD=group", "HOIST_TEST_SERVER_FILE="+file)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	wait := func(prefix string) string {
		t.Helper()
		timeout := time.After(3 * time.Minute)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("hoist exited before %s", prefix)
				}
				if rest, ok := strings.CutPrefix(l, prefix); ok {
					return strings.TrimSpace(rest)
				}
			case <-timeout:
				t.Fatalf("hoist never said %s", prefix)
			}
		}
	}
	wait("READY")
	act()
	moved := wait("MOVED")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return moved
}

// TestKilledDuringAGroupPromotion: hoist is killed with SIGKILL right
// after the first member of a group promotion moved, leaving one member
// promoted and the other not. Restarted, it finishes the promotion
// forward (both promoted, each recorded and deployed once). Killed
// there again, but a person pushes to the second member's branch before
// the restart: the group cannot move it without losing the push, so the
// first member is moved back and both are told.
func TestKilledDuringAGroupPromotion(t *testing.T) {
	killedDuringAGroupPromotion(t, startPair(t, nil))
}

// TestKilledDuringAGroupPromotionPostgres: the same on PostgreSQL, where
// the killed process's session (and the group's lock) ends with it.
func TestKilledDuringAGroupPromotionPostgres(t *testing.T) {
	killedDuringAGroupPromotion(t, startPairOn(t, testenv.Postgres(t), nil))
}

func killedDuringAGroupPromotion(t *testing.T, p *pair) {
	ctx := context.Background()
	frontStart := p.front.Head("staging")

	f1 := p.front.Commit("index.html", "<h1>front 1</h1>", "Front one")
	p.front.Push("dev")
	b1 := p.back.Commit("api.txt", "api 1", "Back one")
	p.back.Push("dev")
	p.back.Status(b1, "success")
	moved := runUntilMoved(t, p, func() { p.front.Status(f1, "success") })
	if moved != "acme/backend" {
		t.Fatalf("first member moved: %q", moved)
	}
	// Killed half-way: the backend moved, the frontend did not.
	if a, b := p.front.Head("staging"), p.back.Head("staging"); a != frontStart || b != b1 {
		t.Fatalf("after the kill staging heads are %s %s, want %s %s", a[:7], b[:7], frontStart[:7], b1[:7])
	}

	// Restarted, hoist finishes the promotion forward.
	p.StartHoist(nil)
	p.front.WaitAudit("staging", f1, "promoted")
	p.back.WaitAudit("staging", b1, "promoted")
	if a, b := p.front.Head("staging"), p.back.Head("staging"); a != f1 || b != b1 {
		t.Fatalf("after the restart staging heads are %s %s, want %s %s", a[:7], b[:7], f1[:7], b1[:7])
	}
	for _, r := range []*sitetest.Repo{p.front, p.back} {
		sha := r.Head("staging")
		if run := r.CheckRun(sha, releasegroup.CheckName); run.GetConclusion() != "success" {
			t.Errorf("%s: %s %s", r.FullName(), run.GetConclusion(), run.GetOutput().GetSummary())
		}
		sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
			deps, _, err := r.Client.Repositories.ListDeployments(ctx, r.Owner, r.Name, &github.DeploymentsListOptions{Environment: "staging", SHA: sha})
			if err != nil {
				return false, err.Error()
			}
			return len(deps) == 1, fmt.Sprintf("%d deployments of %s to staging, want 1", len(deps), sha[:7])
		})
	}

	// Killed again after the backend moved; meanwhile a person pushes a
	// hotfix to the frontend's staging.
	f2 := p.front.Commit("index.html", "<h1>front 2</h1>", "Front two")
	p.front.Push("dev")
	b2 := p.back.Commit("api.txt", "api 2", "Back two")
	p.back.Push("dev")
	p.back.Status(b2, "success")
	moved = runUntilMoved(t, p, func() { p.front.Status(f2, "success") })
	if moved != "acme/backend" || p.back.Head("staging") != b2 {
		t.Fatalf("first member moved: %q, backend staging %s", moved, p.back.Head("staging"))
	}
	p.Git(p.front.Work, "checkout", "-q", "-b", "hotfix", f1)
	hotfix := p.front.Commit("hotfix.txt", "fixed by hand", "Hotfix on staging")
	p.front.Push("staging")

	// Restarted, hoist cannot move the frontend without losing the
	// hotfix, so it moves the backend back: neither is promoted.
	p.StartHoist(nil)
	hasRun(t, p.back, b2, "failure", "moved back", "restored")
	if a, b := p.front.Head("staging"), p.back.Head("staging"); a != hotfix || b != b1 {
		t.Fatalf("after the rollback staging heads are %s %s, want the hotfix %s and %s", a[:7], b[:7], hotfix[:7], b1[:7])
	}
	hasRun(t, p.front, f2, "failure", "while the group was promoting")
}

// hasRun waits for a hoist/release-group check run on sha with conclusion
// whose summary has every one of words.
func hasRun(t *testing.T, r *sitetest.Repo, sha, conclusion string, words ...string) {
	t.Helper()
	sitetest.Eventually(t, 60*time.Second, func() (bool, string) {
		res, _, err := r.Client.Checks.ListCheckRunsForRef(context.Background(), r.Owner, r.Name, sha,
			&github.ListCheckRunsOptions{CheckName: github.String(releasegroup.CheckName)})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
	runs:
		for _, run := range res.CheckRuns {
			s := run.GetOutput().GetSummary()
			seen = append(seen, run.GetConclusion()+": "+s)
			if run.GetConclusion() != conclusion {
				continue
			}
			for _, w := range words {
				if !strings.Contains(s, w) {
					continue runs
				}
			}
			return true, ""
		}
		return false, fmt.Sprintf("no %s %s run on %s of %s with %q; have %q", conclusion, releasegroup.CheckName, sha[:7], r.FullName(), words, seen)
	})
}
