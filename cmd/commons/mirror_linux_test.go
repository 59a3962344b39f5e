//go:build linux

package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
)

// TestE2EMirrorStatusLive: on a terminal, `mirror status` redraws itself
// while the mirror waits and works, and exits by itself once every
// followed library is current.
func TestE2EMirrorStatusLive(t *testing.T) {
	t.Parallel()
	a, b := newRepo(t, "publisher"), newRepo(t, "mirror")
	da := a.start()
	b.start()
	dir := filepath.Join(t.TempDir(), "cargo-bike")
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":    []byte(e2eTOML),
		"instructions.md": []byte("# Build\n"),
		"bom.csv":         []byte("part,qty\ntube,6\n"),
	})
	v1 := a.publish(dir)
	lib := decode[api.LibraryInfo](t, a.ok("library", "--json"))
	// B follows before it can reach A: the mirror waits for a record.
	b.ok("follow", lib.Name)

	master, slave := openPTY(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, commonsBin(t), "--repo", b.path, "mirror", "status")
	cmd.Env = commandEnv()
	cmd.Stdout, cmd.Stderr = slave, slave
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	term := &terminal{}
	go func() { _, _ = master.WriteTo(term) }()
	if !poll(60*time.Second, nil, func() bool {
		s := term.String()
		return strings.Contains(s, "resolving") && strings.Contains(s, "\x1b[") // redrawn in place
	}) {
		t.Fatalf("no live status; the terminal shows:\n%q", term.String())
	}
	b.ok("connect", tcpAddr(t, da))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mirror status: %v\n%s", err, term.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("mirror status did not exit once the library was current; the terminal shows:\n%s", term.String())
	}
	// The command has exited; the pty reader may still be copying its
	// last frame.
	if !poll(10*time.Second, nil, func() bool {
		s := term.String()
		return strings.Contains(s, "current") && strings.Contains(s, "1/1")
	}) {
		t.Fatalf("the last status does not show the library current:\n%s", term.String())
	}
	if !b.pinned(v1.CID) {
		t.Fatal("B did not pin the version")
	}
}
