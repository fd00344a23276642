// Command deploybench measures hoist's deploy against aws s3 sync and
// s3deploy on versitygw: a first deploy of many small files, a deploy with
// 1 % of them changed, and a deploy with nothing changed. Requests are
// counted by a proxy in front of the server, the same way for every tool.
//
// As in CI, the site is the public/ folder of a git repository and every
// deploy runs from a fresh clone of it (not timed), so every file has a new
// mtime; -clone=false runs the tools in the repository's own work tree.
//
//	go run ./bench/deploy -files 10000 -size 20000 -s3deploy /path/to/s3deploy
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/site"
)

const accessKey, secretKey = "bench", "bench-secret-key"

// profile is the -cpuprofile file; profiling is set while the first
// 1 % changed deploy runs.
var (
	profile   string
	profiling bool
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sync-child" {
		syncChild(os.Args[2:])
		return
	}
	files := flag.Int("files", 10000, "number of files")
	size := flag.Int("size", 20000, "bytes per file")
	versity := flag.String("versitygw", "versitygw", "versitygw binary")
	s3deployBin := flag.String("s3deploy", "", "s3deploy binary (skipped when empty)")
	withAWS := flag.Bool("aws", true, "also run aws s3 sync")
	only := flag.String("only", "", "run only the tools whose name contains one of these, comma-separated (e.g. \"git mirror,s3deploy\")")
	repeat := flag.Int("repeat", 1, "runs of 1 % changed and of nothing changed per tool (the median is reported)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the in-process deploy with 1 % changed to this file")
	fresh := flag.Bool("clone", true, "run each deploy from a fresh git clone of the site's repository, as in CI")
	flag.Parse()
	profile = *cpuProfile

	work, err := os.MkdirTemp("", "deploybench-")
	check(err)
	defer os.RemoveAll(work)
	endpoint, stop := startVersity(*versity, filepath.Join(work, "gw"))
	defer stop()
	var requests atomic.Int64
	proxyURL := startProxy(endpoint, &requests)

	type tool struct {
		name string
		// run deploys the site folder dir; src is the repository it was
		// cloned from.
		run func(dir, src, bucket string) (rss int64, err error)
	}
	tools := []tool{{"hoist sync", func(dir, src, bucket string) (int64, error) {
		return runChild(os.Args[0], "sync-child", dir, "s3://"+bucket+"/site", proxyURL)
	}}}
	tools = append(tools, tool{"hoist deploy (git mirror)", func(dir, src, bucket string) (int64, error) {
		return deployFromGit(work, src, bucket, proxyURL)
	}})
	if *withAWS {
		tools = append(tools, tool{"aws s3 sync", func(dir, src, bucket string) (int64, error) {
			return runCmd("aws", "--endpoint-url", proxyURL, "--region", "us-east-1", "s3", "sync", "--delete", "--only-show-errors", dir, "s3://"+bucket+"/site")
		}})
	}
	if *s3deployBin != "" {
		tools = append(tools, tool{"s3deploy", func(dir, src, bucket string) (int64, error) {
			return runCmd(*s3deployBin, "-bucket", bucket, "-path", "site", "-source", dir, "-endpoint-url", proxyURL,
				"-key", accessKey, "-secret", secretKey, "-region", "us-east-1", "-quiet", "-max-delete", "100000")
		}})
	}

	if *only != "" {
		var kept []tool
		for _, tl := range tools {
			for _, w := range strings.Split(*only, ",") {
				if w != "" && strings.Contains(tl.name, w) {
					kept = append(kept, tl)
					break
				}
			}
		}
		tools = kept
	}
	fmt.Printf("%d files of %d bytes; versitygw posix backend on loopback; requests counted at a proxy", *files, *size)
	if *fresh {
		fmt.Print("; each deploy from a fresh git clone")
	}
	if *repeat > 1 {
		fmt.Printf("; 1 %% changed and nothing changed: median of %d runs, the tools taking turns", *repeat)
	}
	fmt.Print("\n\n| tool | scenario | requests | time | peak RSS |\n|---|---|---:|---:|---:|\n")
	type measure struct {
		requests int64
		elapsed  time.Duration
		rss      int64 // KiB; -1 in process
	}
	runOnce := func(i int, tl tool, name string) measure {
		src := filepath.Join(work, fmt.Sprintf("site-%d", i))
		dir := filepath.Join(src, "public")
		commit(src)
		if *fresh {
			clone := filepath.Join(work, fmt.Sprintf("clone-%d", i))
			check(os.RemoveAll(clone))
			git(work, "clone", "-q", src, clone)
			defer os.RemoveAll(clone)
			dir = filepath.Join(clone, "public")
		}
		requests.Store(0)
		start := time.Now()
		rss, err := tl.run(dir, src, fmt.Sprintf("bench-%d", i))
		m := measure{requests: requests.Load(), elapsed: time.Since(start), rss: rss}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s %s: %v\n", tl.name, name, err)
			os.Exit(1)
		}
		if rss < 0 { // in-process: the elapsed time is the deploy's own
			m.elapsed, m.rss = time.Duration(-rss), -1
		}
		return m
	}
	results := map[string][]measure{}
	key := func(i int, sc string) string { return fmt.Sprintf("%d/%s", i, sc) }
	for i := range tools {
		createBucket(endpoint, fmt.Sprintf("bench-%d", i))
		generate(filepath.Join(work, fmt.Sprintf("site-%d", i), "public"), *files, *size)
		results[key(i, "first deploy")] = append(results[key(i, "first deploy")], runOnce(i, tools[i], "first deploy"))
	}
	for r := 0; r < *repeat; r++ {
		for i, tl := range tools {
			mutate(filepath.Join(work, fmt.Sprintf("site-%d", i), "public"), *files, *size, *files/100)
			profiling = r == 0
			results[key(i, "1 % changed")] = append(results[key(i, "1 % changed")], runOnce(i, tl, "1 % changed"))
			profiling = false
		}
	}
	for r := 0; r < *repeat; r++ {
		for i, tl := range tools {
			results[key(i, "nothing changed")] = append(results[key(i, "nothing changed")], runOnce(i, tl, "nothing changed"))
		}
	}
	for i, tl := range tools {
		for _, sc := range []string{"first deploy", "1 % changed", "nothing changed"} {
			ms := results[key(i, sc)]
			sort.Slice(ms, func(a, b int) bool { return ms[a].elapsed < ms[b].elapsed })
			m := ms[len(ms)/2]
			mem := "in process"
			if m.rss >= 0 {
				mem = fmt.Sprintf("%d MiB", m.rss>>10)
			}
			fmt.Printf("| %s | %s | %d | %.2f s | %s |\n", tl.name, sc, m.requests, m.elapsed.Seconds(), mem)
		}
	}
}

// commit records the site repository's work tree as a new commit (not
// timed: CI deploys what was pushed).
func commit(src string) {
	if _, err := os.Stat(filepath.Join(src, ".git")); err != nil {
		git(src, "init", "-q", "-b", "main")
	}
	git(src, "add", "-A")
	git(src, "commit", "-q", "--allow-empty", "-m", "site")
}

func git(dir string, args ...string) string {
	// gc.autoDetach=false: an automatic gc after a commit runs before
	// the commit returns, not beside the next clone, which it would race
	// (objects packed away while they are copied).
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "gc.autoDetach=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		check(fmt.Errorf("git %v: %v: %s", args, err, out))
	}
	return strings.TrimSpace(string(out))
}

// deployFromGit fetches the site repository's head into a mirror (not
// timed: the server does this when the push arrives), then times what a
// deploy job does: read the public/ tree from git and deploy the diff.
// It returns the negated duration in place of a peak RSS.
func deployFromGit(work, src, bucket, endpoint string) (int64, error) {
	ctx := context.Background()
	commit := git(src, "rev-parse", "HEAD")
	m, err := site.OpenMirror(filepath.Join(work, "data"), "bench", bucket)
	check(err)
	defer m.Close()
	check(m.Fetch(ctx, "file://"+src, "", "main"))
	target, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: bucket, Endpoint: endpoint,
		PathStyle: true, AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil)
	check(err)
	if profiling && profile != "" {
		f, err := os.OpenFile(profile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		check(err)
		defer f.Close()
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	tree, err := m.Tree(ctx, commit, "public")
	if err != nil {
		return 0, err
	}
	_, err = deploy.Deploy(ctx, target, deploy.Request{Tree: tree, TreeSHA: site.TreeSHAOf(tree), Prefix: "site/", Edition: "site"})
	return -int64(time.Since(start)), err
}

func syncChild(args []string) {
	_, err := deploy.Sync(context.Background(), deploy.SyncOptions{Dir: args[0], Destination: args[1], Endpoint: args[2], PathStyle: true})
	check(err)
}

func runChild(self string, args ...string) (int64, error) {
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_REGION=us-east-1")
	return run(cmd)
}

func runCmd(name string, args ...string) (int64, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_DEFAULT_REGION=us-east-1")
	return run(cmd)
}

func run(cmd *exec.Cmd) (int64, error) {
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	err := cmd.Run()
	var rss int64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss // KiB on Linux
		}
	}
	return rss, err
}

func generate(dir string, n, size int) {
	rng := rand.New(rand.NewSource(42))
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		p := filePath(i)
		check(os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		rng.Read(buf)
		check(os.WriteFile(filepath.Join(dir, p), buf, 0o644))
	}
}

func mutate(dir string, n, size, count int) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	buf := make([]byte, size)
	for i := 0; i < count; i++ {
		rng.Read(buf)
		check(os.WriteFile(filepath.Join(dir, filePath(i*(n/count))), buf, 0o644))
	}
}

// filePath spreads files over folders like a generated site: pages and
// their assets.
func filePath(i int) string {
	ext := []string{".html", ".css", ".js", ".png"}[i%4]
	return fmt.Sprintf("section%02d/group%03d/file%05d%s", i%20, i%500, i, ext)
}

func startVersity(bin, dir string) (string, func()) {
	check(os.MkdirAll(dir, 0o755))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey, "--port", addr, "--quiet", "posix", dir)
	check(cmd.Start())
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return "http://" + addr, func() { cmd.Process.Kill(); cmd.Wait() }
}

// startProxy forwards to the server and counts requests. The Host header
// is kept, so the clients' signatures stay valid.
func startProxy(endpoint string, n *atomic.Int64) string {
	u, _ := url.Parse(endpoint)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		rp.ServeHTTP(w, r)
	}))
	return "http://" + l.Addr().String()
}

func createBucket(endpoint, bucket string) {
	t, err := deploy.NewS3Target(context.Background(), deploy.TargetConfig{Type: "s3", Bucket: bucket, Endpoint: endpoint,
		PathStyle: true, AccessKeyID: accessKey, SecretAccessKey: secretKey}, nil)
	check(err)
	_, err = t.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	check(err)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploybench:", strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
