package emulator

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// catFiles keeps one long-running `git cat-file --batch-command` per
// repository, so reading an object costs a pipe round trip instead of a
// process start (a REST listing reads dozens of commits). Objects are
// immutable, so a long-lived reader is always right about them; refs are
// never resolved through it, since its ref cache could be stale.
type catFiles struct {
	mu     sync.Mutex
	m      map[string]*catFile
	closed bool
}

type catFile struct {
	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	broken bool
}

func (cs *catFiles) get(dir string) *catFile {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return nil
	}
	if cs.m == nil {
		cs.m = map[string]*catFile{}
	}
	if cf := cs.m[dir]; cf != nil && !cf.broken {
		return cf
	}
	cmd := exec.Command("git", "cat-file", "--batch-command")
	cmd.Env = append(os.Environ(), "GIT_DIR="+dir, "LC_ALL=C")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil
	}
	if err := cmd.Start(); err != nil {
		return nil
	}
	cf := &catFile{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 64<<10)}
	cs.m[dir] = cf
	return cf
}

func (cs *catFiles) close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for _, cf := range cs.m {
		cf.stdin.Close()
		cf.cmd.Wait()
	}
	cs.m = nil
}

func isHex(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// query runs one command ("info" or "contents") for an object id. found is
// false for a missing object; err means the reader broke (callers fall
// back to starting git).
func (cf *catFile) query(cmd, oid string) (typ string, data []byte, found bool, err error) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.broken {
		return "", nil, false, fmt.Errorf("cat-file reader closed")
	}
	fail := func(e error) (string, []byte, bool, error) {
		cf.broken = true
		cf.stdin.Close()
		return "", nil, false, e
	}
	if _, err := fmt.Fprintf(cf.stdin, "%s %s\n", cmd, oid); err != nil {
		return fail(err)
	}
	line, err := cf.stdout.ReadString('\n')
	if err != nil {
		return fail(err)
	}
	f := strings.Fields(line)
	if len(f) == 2 && (f[1] == "missing" || f[1] == "ambiguous") {
		return "", nil, false, nil
	}
	if len(f) != 3 {
		return fail(fmt.Errorf("cat-file: unexpected %q", line))
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return fail(err)
	}
	if cmd == "info" {
		return f[1], nil, true, nil
	}
	data = make([]byte, size+1) // content and a newline
	if _, err := io.ReadFull(cf.stdout, data); err != nil {
		return fail(err)
	}
	return f[1], data[:size], true, nil
}
