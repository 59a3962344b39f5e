//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/metadata"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx (a pseudo-terminal is needed to test prompts): %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// terminal collects what the command writes to its terminal.
type terminal struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (tm *terminal) Write(p []byte) (int, error) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.Write(p)
}

func (tm *terminal) String() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// TestE2EPublishAsksOnTerminal: run on a terminal, publish asks for the
// title, licences and an author a first version lacks, publishes with the
// answers, and saves them in commons.toml when told to.
func TestE2EPublishAsksOnTerminal(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "asks")
	dir := filepath.Join(t.TempDir(), "Desk Lamp")
	writeFiles(t, dir, map[string][]byte{"README.md": []byte("# lamp\n"), "bom.csv": []byte("part,qty\nLED,3\n")})
	master, slave := openPTY(t)

	ctx, cancel := context.WithTimeout(context.Background(), commandDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, commonsBin(t), "--repo", r.path, "publish", dir)
	cmd.Env = commandEnv()
	cmd.Stdin, cmd.Stderr = slave, slave
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := &terminal{}
	go func() { _, _ = master.WriteTo(term) }()
	answer := func(prompt, reply string) {
		t.Helper()
		if !poll(commandDeadline, nil, func() bool { return strings.Contains(term.String(), prompt) }) {
			t.Fatalf("no prompt %q; the terminal shows:\n%s", prompt, term.String())
		}
		if _, err := master.WriteString(reply + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	answer("title:", "Desk lamp")
	answer("hardware licence", "CERN-OHL-P-2.0")
	answer("software licence", "NONE")
	answer("documentation licence", "CC-BY-4.0")
	answer("author, as Name <contact>", "Ada <ada@example.org>")
	answer("save these answers", "y")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("publish on a terminal: %v\nterminal:\n%s\nstdout:\n%s", err, term.String(), stdout.String())
	}
	if !strings.Contains(stdout.String(), "published desk-lamp version 1") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	info := decode[api.BundleInfo](t, r.ok("show", "--json", "desk-lamp"))
	if info.Title != "Desk lamp" || info.Licenses.Hardware != "CERN-OHL-P-2.0" || info.Licenses.Documentation != "CC-BY-4.0" || len(info.Authors) != 1 || info.Authors[0].Contact != "ada@example.org" {
		t.Fatalf("the answers are not in the manifest: %+v", info)
	}
	saved, err := os.ReadFile(filepath.Join(dir, metadata.FileName))
	if err != nil {
		t.Fatalf("the answers were not saved: %v", err)
	}
	m, err := metadata.Parse(saved)
	if err != nil || m.Title != "Desk lamp" || m.Licenses.Software != "NONE" {
		t.Fatalf("saved commons.toml: %+v %v\n%s", m, err, saved)
	}
	// With the answers saved, a script (no terminal) publishes the next
	// version without asking.
	writeFiles(t, dir, map[string][]byte{"README.md": []byte("# lamp v2\n")})
	if out := r.ok("publish", dir).stdout; !strings.Contains(out, "version 2") {
		t.Fatalf("second publish:\n%s", out)
	}
}
