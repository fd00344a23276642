package smoke

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
)

// chromiumCandidates are tried in order when no path is configured. Debian's
// chromium-headless-shell comes first; its /usr/bin wrapper script does not
// exec the binary, so the library path is listed before it.
var chromiumCandidates = []string{
	"/usr/lib/chromium/chromium-headless-shell",
	"/usr/lib/chromium/chromium",
	"/usr/bin/chromium-headless-shell",
	"/usr/bin/chromium",
	"/usr/bin/google-chrome",
	"chromium",
	"google-chrome",
}

// FindChromium returns the browser to run: configured when not empty, else
// $HOIST_CHROMIUM, else the first installed candidate.
func FindChromium(configured string) (string, error) {
	for _, p := range []string{configured, os.Getenv("HOIST_CHROMIUM")} {
		if p == "" {
			continue
		}
		abs, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("chromium %s: %w", p, err)
		}
		return abs, nil
	}
	for _, p := range chromiumCandidates {
		if abs, err := exec.LookPath(p); err == nil {
			return abs, nil
		}
	}
	return "", errors.New("no headless Chromium found: install chromium-headless-shell, or set --chromium / HOIST_CHROMIUM")
}

// browser is one Chromium process for one smoke run.
type browser struct {
	ctx    context.Context // the first tab's context; tabs are its children
	cancel func()
	pid    int
	// sandboxed and user say how it runs (see startBrowser).
	sandboxed bool
	user      string

	mu      sync.Mutex
	peakRSS int64
	// lastRSS is the memory of the latest sample.
	lastRSS int64
	// peakProcs is the most processes seen in the tree at once.
	peakProcs int
	// known and samples belong to the sampling goroutine.
	known   []int
	samples int
	// treeChanged asks the next sample to find the tree again: a tab was
	// opened, so a renderer may have started since the last search.
	treeChanged atomic.Bool
	// cpuTicks is the last CPU time seen of each process of the tree: a
	// renderer that has ended still counts with what it used.
	cpuTicks map[int]int64
	stopRSS  func()
}

// launch is how one browser is started.
type launch struct {
	path string
	// shareRenderer puts every tab of the site in one renderer process.
	shareRenderer bool
	// proxy is the URL of the run's network fence.
	proxy string
	// user is Options.BrowserUser.
	user string
}

// startBrowser starts Chromium with a fresh profile and the flags that keep
// it from talking to anything but the site (every request through the
// run's fence, no updates, no background networking, no QUIC, no direct
// UDP for WebRTC). The browser lives as long as parent.
//
// Chromium gets none of hoist's environment, and as root it runs as
// another user (nobody by default) with its sandbox: a page that broke out
// of the renderer would find neither hoist's secrets in its environment
// nor the rights to read them from /proc. Where the kernel gives no
// sandbox, it runs without one; where the user cannot be switched, as
// root: each fallback is logged and shown in the report's stats.
func startBrowser(parent context.Context, l launch) (*browser, error) {
	log := zerolog.Ctx(parent)
	cred, credName, err := browserCredential(l.user)
	if err != nil {
		return nil, err
	}
	type attempt struct {
		cred    *syscall.Credential
		sandbox bool
	}
	var attempts []attempt
	if cred != nil {
		attempts = append(attempts, attempt{cred, true}, attempt{cred, false})
	}
	if cred == nil || os.Geteuid() == 0 {
		attempts = append(attempts, attempt{nil, os.Geteuid() != 0}, attempt{nil, false})
	}
	// Every run tries the strongest way first: a start that failed once
	// for a passing reason (a loaded machine) must not weaken later runs.
	var errs []error
	for i := 0; i < len(attempts); i++ {
		a := attempts[i]
		if i > 0 && a == attempts[i-1] {
			continue
		}
		b, err := startBrowserAs(parent, l, a.cred, a.sandbox)
		if err == nil {
			b.sandboxed = a.sandbox
			b.user = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
			if a.cred != nil {
				b.user = fmt.Sprintf("%d:%d", a.cred.Uid, a.cred.Gid)
			}
			if i == 0 && a.cred == nil && !a.sandbox {
				log.Warn().Str("browser_user", b.user).Msg("chromium runs as root without its sandbox, as smoke.browser_user asks")
			}
			if i > 0 {
				ev := log.Warn()
				if a.cred == nil && os.Geteuid() == 0 {
					ev = log.Error()
				}
				ev.Errs("tried", errs).Bool("sandbox", a.sandbox).Str("browser_user", b.user).
					Msg("chromium runs with less protection than wanted: " + protection(a.cred != nil, a.sandbox, credName))
			}
			return b, nil
		}
		if parent.Err() != nil {
			return nil, fmt.Errorf("start chromium %s: %w", l.path, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", protection(a.cred != nil, a.sandbox, credName), err))
	}
	return nil, fmt.Errorf("start chromium %s: %w", l.path, errors.Join(errs...))
}

func protection(switched, sandbox bool, name string) string {
	who := "as hoist's own user"
	if switched {
		who = "as " + name
	} else if os.Geteuid() == 0 {
		who = "as root"
	}
	if sandbox {
		return who + " with the sandbox"
	}
	return who + " without the sandbox"
}

// browserCredential is the user Chromium runs as: nil when hoist does not
// run as root (it cannot switch) or the operator asked for root.
func browserCredential(spec string) (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		spec = "nobody"
	}
	if spec == "root" || spec == "0" || spec == "0:0" {
		return nil, "", nil
	}
	uidS, gidS, hasGID := strings.Cut(spec, ":")
	var uid, gid uint64
	var err error
	if uid, err = strconv.ParseUint(uidS, 10, 32); err != nil {
		u, lerr := user.Lookup(uidS)
		switch {
		case lerr == nil:
			uid, _ = strconv.ParseUint(u.Uid, 10, 32)
			gid, _ = strconv.ParseUint(u.Gid, 10, 32)
		case uidS == "nobody":
			// The conventional nobody/nogroup, for systems without the
			// entry (minimal containers).
			uid, gid = 65534, 65534
		default:
			return nil, "", fmt.Errorf("browser user %q: %w", spec, lerr)
		}
	} else {
		gid = uid
		if u, err := user.LookupId(uidS); err == nil {
			gid, _ = strconv.ParseUint(u.Gid, 10, 32)
		}
	}
	if hasGID {
		if gid, err = strconv.ParseUint(gidS, 10, 32); err != nil {
			g, lerr := user.LookupGroup(gidS)
			if lerr != nil {
				return nil, "", fmt.Errorf("browser user %q: group: %w", spec, lerr)
			}
			gid, _ = strconv.ParseUint(g.Gid, 10, 32)
		}
	}
	if uid == 0 {
		return nil, "", nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, spec, nil
}

// browserEnv is the whole environment of Chromium: what it needs to run
// and render text, and nothing of hoist's (no webhook secret, no cloud
// credentials). HOME and the XDG folders are the run's profile folder,
// which it owns.
func browserEnv(home string) []string {
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
	}
	for _, k := range []string{"LANG", "LC_ALL", "TZ", "FONTCONFIG_FILE", "FONTCONFIG_PATH", "FONTCONFIG_SYSROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// userDataDir finds the profile folder chromedp made for this browser.
func userDataDir(args []string) string {
	for _, a := range args {
		if d, ok := strings.CutPrefix(a, "--user-data-dir="); ok {
			return d
		}
	}
	return ""
}

func startBrowserAs(parent context.Context, l launch, cred *syscall.Credential, sandbox bool) (*browser, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(l.path),
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("font-render-hinting", "none"),
		// Every request goes through the run's fence, loopback ones too
		// (Chromium would otherwise reach localhost directly). Host names
		// are the fence's to resolve: the browser's own resolver answers
		// nothing, so nothing can reach out without the proxy. WebRTC may
		// not send UDP around the proxy.
		chromedp.ProxyServer(l.proxy),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		chromedp.Flag("webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		// Fewer processes, less memory (measured: 8 pages, 2 tabs, from
		// ~590 MB to ~420 MB of summed RSS): the GPU process and the network
		// service run inside the browser process.
		chromedp.Flag("in-process-gpu", true),
		// Pages left behind are never revisited: keeping them in the
		// back/forward cache only costs memory. Site isolation would give
		// each cross-site frame (a video, a map) a renderer of its own, at
		// ~150 MB each; the pages tested are trusted. This list replaces
		// chromedp's default one, so it repeats site-per-process.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,BackForwardCache,site-per-process,IsolateOrigins"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.Flag("enable-features", "NetworkService,NetworkServiceInProcess,NetworkServiceInProcess2"),
		// chromedp gives each browser a fresh temporary --user-data-dir and
		// removes it afterwards.
		chromedp.NoInheritEnv,
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			dir := userDataDir(cmd.Args)
			if cred != nil && dir != "" {
				// The profile, HOME and caches are the browser user's.
				os.Chown(dir, int(cred.Uid), int(cred.Gid))
			}
			cmd.Dir = dir
			cmd.Env = browserEnv(dir)
			// Kill the browser with hoist (what chromedp does by default),
			// and run it as the browser user.
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
		}),
	)
	if sandbox {
		// chromedp adds --no-sandbox as root unless told otherwise; the
		// browser user is not root.
		opts = append(opts, chromedp.Flag("no-sandbox", false))
	} else {
		// Without a sandbox the zygote processes that prepare sandboxed
		// renderers are useless weight (~100 MB).
		opts = append(opts, chromedp.NoSandbox, chromedp.Flag("no-zygote", true))
	}
	if l.shareRenderer {
		// One renderer process for every tab: a renderer maps ~100 MB of
		// the binary and ~30 MB of tiles of its own, more than a page
		// needs (measured: 20 pages, 2 tabs, ~530 MB summed RSS with a
		// renderer per tab, ~400 MB with one).
		opts = append(opts, chromedp.Flag("process-per-site", true), chromedp.Flag("renderer-process-limit", "1"))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first Run starts the browser; it must have no deadline, or the
	// deadline would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		return nil, err
	}
	b := &browser{ctx: ctx, cancel: func() { cancelCtx(); cancelAlloc() }}
	if c := chromedp.FromContext(ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		b.pid = c.Browser.Process().Pid
	}
	b.startRSSSampler()
	return b, nil
}

func (b *browser) close() {
	if b.stopRSS != nil {
		b.stopRSS()
	}
	b.cancel()
}

// startRSSSampler records the peak memory and the CPU time of the
// browser's process tree every 50 ms.
func (b *browser) startRSSSampler() {
	if b.pid == 0 {
		return
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			b.sampleRSS()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	b.stopRSS = func() {
		close(done)
		<-stopped
		b.sampleRSS()
	}
}

func (b *browser) sampleRSS() {
	// Finding the tree reads the stat of every process on the machine; the
	// tree changes seldom, so it is found again every fifth sample and only
	// its known processes are read in between.
	var procs []proc
	if b.samples%5 == 0 || b.treeChanged.Swap(false) {
		procs = treeProcs(b.pid)
		b.known = b.known[:0]
		for _, p := range procs {
			b.known = append(b.known, p.pid)
		}
	} else {
		for _, pid := range b.known {
			if _, ticks, ok := procStat(pid); ok {
				procs = append(procs, proc{pid: pid, rss: vmRSS(pid), cpu: ticks})
			}
		}
	}
	b.samples++
	var rss int64
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cpuTicks == nil {
		b.cpuTicks = map[int]int64{}
	}
	for _, p := range procs {
		rss += p.rss
		if p.cpu > b.cpuTicks[p.pid] {
			b.cpuTicks[p.pid] = p.cpu
		}
	}
	if rss > b.peakRSS {
		b.peakRSS = rss
	}
	b.lastRSS = rss
	b.peakProcs = max(b.peakProcs, len(procs))
}

// rss is the memory of the browser's processes at the latest sample.
func (b *browser) rss() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastRSS
}

func (b *browser) processes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peakProcs
}

// cpuTime is the CPU time (user+system) the browser's processes used, as
// far as the samples saw it.
func (b *browser) cpuTime() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ticks int64
	for _, t := range b.cpuTicks {
		ticks += t
	}
	// Linux reports in USER_HZ, 100 on every architecture Go supports.
	return time.Duration(ticks) * (time.Second / 100)
}

func (b *browser) peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peakRSS
}

// zygoteRSS is the memory of the browser's zygote processes, which a
// sandboxed browser keeps to fork renderers from: fixed weight (~115 MB of
// summed RSS, mostly pages shared with the browser process) that no
// garbage collection frees.
func (b *browser) zygoteRSS() int64 {
	var total int64
	for _, p := range treeProcs(b.pid) {
		cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "cmdline"))
		if err == nil && strings.Contains(string(cmd), "--type=zygote") {
			total += p.rss
		}
	}
	return total
}

// TreeRSS sums VmRSS of pid and all its descendants, in bytes, from /proc.
// It returns 0 where /proc is absent.
func TreeRSS(pid int) int64 {
	var total int64
	for _, p := range treeProcs(pid) {
		total += p.rss
	}
	return total
}

// proc is one process of a browser's tree as /proc shows it.
type proc struct {
	pid int
	// rss is VmRSS in bytes; cpu is user+system time in clock ticks.
	rss int64
	cpu int64
}

// treeProcs lists pid and all its descendants. It returns nothing where
// /proc is absent.
func treeProcs(pid int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	cpu := map[int]int64{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ticks, ok := procStat(p); ok {
			children[pp] = append(children[pp], p)
			cpu[p] = ticks
		}
	}
	var out []proc
	stack := []int{pid}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, proc{pid: p, rss: vmRSS(p), cpu: cpu[p]})
		stack = append(stack, children[p]...)
	}
	return out
}

// procStat reads the parent and the CPU time (utime+stime, in ticks) of pid
// from /proc/pid/stat.
func procStat(pid int) (ppid int, ticks int64, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// The command name is in parentheses and may hold spaces; the fields
	// after the last ')' are: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	pp, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return pp, ut + st, pp > 0
}

func vmRSS(pid int) int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
