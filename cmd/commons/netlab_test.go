//go:build netlab

// Tests over network namespaces: real hosts on a private network the test
// builds itself. They need root and iproute2 (`ip`); `make netlab` runs
// them, and `make test` does when it runs as root (as CI does).

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netns is one network namespace with the commons repo of the node in it.
type netns struct {
	t    *testing.T
	name string
	repo *testRepo
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// lan makes two namespaces joined by a veth pair on 10.77.0.0/24: a LAN
// with no route anywhere else, so no bootstrap peer or internet host is
// reachable. Cleanup deletes both (which deletes the veth pair).
func lan(t *testing.T) (a, b *netns) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("netlab tests need root (network namespaces); run them as root, as CI does")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("netlab tests need iproute2's ip command (apt-get install iproute2)")
	}
	id := os.Getpid() % 100000
	a = &netns{t: t, name: fmt.Sprintf("cmn%da", id), repo: &testRepo{t: t, path: filepath.Join(t.TempDir(), "a")}}
	b = &netns{t: t, name: fmt.Sprintf("cmn%db", id), repo: &testRepo{t: t, path: filepath.Join(t.TempDir(), "b")}}
	for _, n := range []*netns{a, b} {
		ipCmd(t, "netns", "add", n.name)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	}
	va, vb := fmt.Sprintf("v%da", id), fmt.Sprintf("v%db", id)
	ipCmd(t, "link", "add", va, "type", "veth", "peer", "name", vb)
	ipCmd(t, "link", "set", va, "netns", a.name)
	ipCmd(t, "link", "set", vb, "netns", b.name)
	for _, x := range []struct {
		n    *netns
		dev  string
		addr string
	}{{a, va, "10.77.0.1/24"}, {b, vb, "10.77.0.2/24"}} {
		ipCmd(t, "-n", x.n.name, "addr", "add", x.addr, "dev", x.dev)
		ipCmd(t, "-n", x.n.name, "link", "set", x.dev, "up")
		ipCmd(t, "-n", x.n.name, "link", "set", "lo", "up")
	}
	return a, b
}

// run runs the CLI inside the namespace on its repo.
func (n *netns) run(args ...string) result {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandDeadline)
	defer cancel()
	full := append([]string{"netns", "exec", n.name, commonsBin(n.t), "--repo", n.repo.path}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.Env = commandEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("ip netns exec %s commons %s: %v", n.name, strings.Join(args, " "), err)
	}
	return r
}

// daemon starts `commons daemon` in the namespace and waits until it
// answers there as an online node (its API is on the namespace's loopback,
// out of the test's reach, so readiness is asked of the CLI inside).
func (n *netns) daemon() {
	n.t.Helper()
	d := n.repo.spawnDaemon("ip", "netns", "exec", n.name)
	ok := poll(readyDeadline, d.done, func() bool {
		r := n.run("id", "--json")
		var info struct {
			Online bool `json:"online"`
		}
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &info) == nil && info.Online
	})
	if !ok {
		n.t.Fatalf("daemon in %s did not come up:\n%s", n.name, d.logTail(40))
	}
}

// TestNetLabLANWithoutInternet: two nodes on a LAN with no internet (the
// lan profile, plus a bootstrap peer that cannot be reached) find each
// other by mDNS and fetch from each other; nothing waits on the bootstrap
// peer.
func TestNetLabLANWithoutInternet(t *testing.T) {
	a, b := lan(t)
	for _, n := range []*netns{a, b} {
		mustOK(t, n.run("init", "--profile", "lan"))
	}
	// A bootstrap peer on the public internet, unreachable from here.
	cfg := filepath.Join(a.repo.path, "config.toml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("\npeers = []"),
		[]byte("\npeers = ['/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ']"), 1)
	if !bytes.Contains(data, []byte("104.131.131.82")) {
		t.Fatalf("could not set a bootstrap peer in %s:\n%s", cfg, data)
	}
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a.daemon()
	b.daemon()

	src := demoBundle(t)
	root := strings.TrimSpace(mustOK(t, a.run("publish", "-q", src)).stdout)

	var aID struct {
		PeerID string `json:"peer_id"`
	}
	if err := json.Unmarshal([]byte(mustOK(t, a.run("id", "--json")).stdout), &aID); err != nil {
		t.Fatal(err)
	}
	found := poll(60*time.Second, nil, func() bool {
		return strings.Contains(b.run("peers", "--json").stdout, aID.PeerID)
	})
	if !found {
		t.Fatalf("B did not find A on the LAN by mDNS within 60s; B's peers: %s", b.run("peers").stdout)
	}
	out := filepath.Join(t.TempDir(), "copy")
	mustOK(t, b.run("get", root, "-o", out))
	sameBundleTree(t, src, out)
	if got := mustOK(t, b.run("cat", root+"/bom.csv")).stdout; !strings.HasPrefix(got, "part,") {
		t.Fatalf("cat over the LAN: %q", got)
	}
}
