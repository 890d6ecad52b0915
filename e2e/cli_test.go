package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// studiobakeBin builds the command users run, so the browser sees what
// `studiobake serve` serves, flags and signal handling included.
func studiobakeBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "studiobake")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/studiobake/studiobake").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// child is a running studiobake command.
type child struct {
	cmd         *exec.Cmd
	out, stderr lockedBuffer
	done        chan struct{} // closed when the process has exited
	err         error         // Wait's result, set before done closes
}

// serveCLI runs `studiobake serve --dir dir --port 0` and returns the URL it
// prints. At cleanup it sends Ctrl-C (SIGINT) and requires exit 0 within a
// few seconds: a preview that hangs or fails on Ctrl-C is a bug users see.
func serveCLI(t *testing.T, bin, dir string) string {
	t.Helper()
	c, url := startServe(t, exec.Command(bin, "serve", "--quiet", "--dir", dir, "--port", "0"))
	t.Cleanup(func() { c.interrupt(t) })
	return url
}

// startServe starts cmd, a `studiobake serve` however it is launched, and
// returns it with the URL it prints.
func startServe(t *testing.T, cmd *exec.Cmd) (*child, string) {
	t.Helper()
	c := &child{cmd: cmd, done: make(chan struct{})}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.cmd, err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.out.Write(append(sc.Bytes(), '\n'))
			if i := strings.Index(sc.Text(), "http://"); i >= 0 && len(urls) == 0 {
				urls <- strings.Fields(sc.Text()[i:])[0]
			}
		}
		c.err = c.cmd.Wait() // after stdout hits EOF, as Wait requires
		close(c.done)
	}()
	select {
	case u := <-urls:
		return c, u
	case <-c.done:
		t.Fatalf("studiobake serve exited (%v) before printing its URL: %s%s", c.err, c.out.String(), c.stderr.String())
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatalf("studiobake serve printed no URL in 30s: %q", c.out.String())
	}
	return nil, ""
}

// interrupt sends Ctrl-C and requires a clean exit.
func (c *child) interrupt(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
		return // already gone; the test has said why
	default:
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Errorf("Ctrl-C: %v", err)
	}
	select {
	case <-c.done:
		if c.err != nil || c.stderr.String() != "" {
			t.Errorf("studiobake serve after Ctrl-C: %v, stderr %q; want exit 0 and nothing on stderr", c.err, c.stderr.String())
		}
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Errorf("studiobake serve did not stop within 10s of Ctrl-C")
	}
}
