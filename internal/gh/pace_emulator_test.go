package gh_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/gh"
)

// Against the emulator answering half of the writes with GitHub's
// secondary limit without Retry-After: every status is posted exactly
// once, and after each refusal the installation's next write waits the
// configured pause, doubled for each refusal in a row.
func TestSecondaryLimitWithoutRetryAfterBacksOffAgainstTheEmulator(t *testing.T) {
	emu := emulatortest.Start(t)
	app := emu.CreateApp("hoist", "http://127.0.0.1:1/webhook")
	tok := emu.CreateUser("alice")
	emu.CreateRepo("acme", "site", tok)
	inst := emu.Install(app.ID, "acme/site")
	ctx := context.Background()
	file, _, err := emu.Client(tok).Repositories.CreateFile(ctx, "acme", "site", "README.md",
		&github.RepositoryContentFileOptions{Message: github.String("first"), Content: []byte("site\n"), Branch: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	sha := file.Commit.GetSHA()

	const wait = 25 * time.Millisecond
	cfg := &serverconfig.Server{}
	cfg.GitHub.URL = emu.URL() + "/api/v3/"
	cfg.GitHub.AppID = app.ID
	cfg.GitHub.PrivateKey = string(app.PrivateKeyPEM)
	cfg.GitHub.Timeout = 10 * time.Second
	cfg.GitHub.WriteInterval = 10 * time.Millisecond
	cfg.GitHub.WritesPerMinute = 6000 + 20 // one per interval and a burst of 20
	cfg.GitHub.SecondaryWait = wait
	cc, err := gh.NewClientCreator(cfg, gh.RateLimitOptions{Logger: zerolog.Nop(), MaxRetries: 6, MaxWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	client, err := cc.NewInstallationClient(inst)
	if err != nil {
		t.Fatal(err)
	}
	emu.SetFaults(emulator.Faults{Seed: 3, Routes: []emulator.RouteFault{{Path: "*", Writes: true, SecondaryRateLimitNoRetryRate: 0.5}}})
	const n = 12
	for i := 0; i < n; i++ {
		st := &github.RepoStatus{State: github.String("success"), Context: github.String(fmt.Sprint("check ", i))}
		if _, _, err := client.Repositories.CreateStatus(ctx, "acme", "site", sha, st); err != nil {
			t.Fatalf("status %d: %v", i, err)
		}
	}
	emu.SetFaults(emulator.Faults{})

	statuses, _, err := emu.Client(tok).Repositories.ListStatuses(ctx, "acme", "site", sha, &github.ListOptions{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != n {
		t.Fatalf("%d statuses, want %d (no loss, no duplicate)", len(statuses), n)
	}
	var writes []emulator.LoggedRequest
	for _, r := range emu.RequestLog() {
		if r.Installation == inst && r.Method == http.MethodPost {
			writes = append(writes, r)
		}
	}
	refused, streak, longest := 0, 0, 0
	for i, r := range writes {
		if r.Status != http.StatusForbidden {
			streak = 0
			continue
		}
		refused++
		streak++
		longest = max(longest, streak)
		if i+1 == len(writes) {
			t.Fatal("the last write was refused")
		}
		want := wait << (streak - 1)
		if gap := writes[i+1].At.Sub(r.Done); gap < want-5*time.Millisecond {
			t.Errorf("write %d came %s after refusal %d in a row, want at least %s", i+2, gap, streak, want)
		}
	}
	if longest < 2 || len(writes) != n+refused {
		t.Fatalf("%d writes with %d refusals (at most %d in a row) for %d statuses; want writes = statuses + refusals, and two refusals in a row", len(writes), refused, longest, n)
	}
}

// A team-membership read refused by a rate limit is neither "not a
// member" nor "no permission": the caller gets an error to retry on.
func TestTeamMembershipRateLimitIsNotAnAnswer(t *testing.T) {
	emu := emulatortest.Start(t)
	app := emu.CreateApp("hoist", "http://127.0.0.1:1/webhook")
	tok := emu.CreateUser("alice")
	emu.CreateUser("carol")
	emu.CreateRepo("acme", "site", tok)
	if err := emu.SetTeam("acme", "release", "carol"); err != nil {
		t.Fatal(err)
	}
	inst := emu.Install(app.ID, "acme/site")
	cfg := &serverconfig.Server{}
	cfg.GitHub.URL = emu.URL() + "/api/v3/"
	cfg.GitHub.AppID = app.ID
	cfg.GitHub.PrivateKey = string(app.PrivateKeyPEM)
	cfg.GitHub.Timeout = 10 * time.Second
	// GitHub's minute is beyond what the request may wait: the 403 goes
	// back to the caller.
	cc, err := gh.NewClientCreator(cfg, gh.RateLimitOptions{Logger: zerolog.Nop(), MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, err := cc.NewInstallationClient(inst)
	if err != nil {
		t.Fatal(err)
	}
	repo := gh.NewRepo(client, "acme", "site")
	ctx := context.Background()
	if ok, err := repo.InTeam(ctx, "release", "carol"); !ok || err != nil {
		t.Fatalf("carol in release: %v, %v; want a member", ok, err)
	}
	emu.SetFaults(emulator.Faults{Routes: []emulator.RouteFault{{Path: "/orgs/{org}/teams/{team_slug}/memberships/{username}", SecondaryRateLimitNoRetryRate: 1}}})
	ok, err := repo.InTeam(ctx, "release", "carol")
	if err == nil || ok || errors.Is(err, gh.ErrNoAccess) {
		t.Fatalf("membership read refused by a secondary limit: %v, %v; want an error other than ErrNoAccess", ok, err)
	}
	var abuse *github.AbuseRateLimitError
	if !errors.As(err, &abuse) {
		t.Fatalf("error %v, want the secondary limit kept", err)
	}
}
