package kubopeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	defaultStartTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGINT before SIGKILL.
	stopGrace = 15 * time.Second
	// startPoll is how often Start checks whether the daemon is up.
	startPoll = 100 * time.Millisecond
	// logTailLines is how much of the daemon log a failed test shows.
	logTailLines = 60
)

// Options adjusts a Peer. The zero value gives a DHT-server Kubo listening on
// 127.0.0.1 TCP only.
type Options struct {
	// Config holds extra configuration edits, applied by Configure after
	// this package's defaults (so they can override them), in key order. Keys
	// are dot-separated as for `ipfs config --json`; values are JSON-encoded,
	// e.g.
	// {"Routing.Type": "dhtclient", "Swarm.ConnMgr.HighWater": 10}.
	Config map[string]any
	// DaemonArgs are appended to `ipfs daemon`, e.g. "--offline".
	DaemonArgs []string
	// Env holds extra KEY=VALUE environment variables for every Kubo process
	// of the peer (init, config, daemon, Run). They come after the defaults,
	// so "TEST_DHT_STUB=" switches the DHT stub mode off.
	Env []string
	// StartTimeout bounds the wait for the daemon's API to answer once it has
	// been started; zero means 60 s. It does not cover building Kubo.
	StartTimeout time.Duration
}

// Peer is a running Kubo daemon in its own temporary repository, listening
// on 127.0.0.1 only. Its exported fields are set by Start and must not be
// changed. Methods may be called from several goroutines.
type Peer struct {
	// PeerID is the daemon's libp2p peer ID.
	PeerID string
	// SwarmAddrs are the daemon's listen multiaddrs, each ending in
	// /p2p/<PeerID>, ready for a swarm connect.
	SwarmAddrs []string
	// APIURL is the base of the HTTP RPC API, e.g. http://127.0.0.1:41234;
	// commands live under APIURL+"/api/v0/".
	APIURL string
	// APIAddr is the RPC API as a multiaddr, for `ipfs --api`.
	APIAddr string
	// GatewayURL is the base of the HTTP gateway, e.g. http://127.0.0.1:41235.
	GatewayURL string
	// Repo is the daemon's IPFS_PATH.
	Repo string
	// Bin is the Kubo binary the daemon runs.
	Bin string
	// LogPath is the file holding the daemon's stdout and stderr.
	LogPath string

	extraEnv []string // Options.Env
	client   *http.Client
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd.Wait returns
	waitErr  error         // cmd.Wait's result, readable after exited closes

	stopOnce sync.Once
	stopErr  error
}

// Start runs a Kubo daemon for the duration of t.
//
// It finds or builds the binary (see Binary), initialises a repository in a
// temporary directory with the test profile, applies the loopback-only
// configuration and opts.Config with `ipfs config --json`, starts `ipfs
// daemon` and polls its RPC API until it reports its listen addresses or
// opts.StartTimeout passes. On any failure Start calls t.Fatal, including the
// tail of the daemon log.
//
// A t.Cleanup stops the daemon (see Stop) and, if the test failed, logs the
// tail of the daemon's log; the repository is removed with t's temporary
// directory.
func Start(t testing.TB, opts Options) *Peer {
	t.Helper()
	ctx := t.Context()
	bin, err := Binary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := &Peer{
		Repo:     filepath.Join(dir, "ipfs"),
		Bin:      bin,
		LogPath:  filepath.Join(dir, "daemon.log"),
		extraEnv: slices.Clone(opts.Env),
		client:   &http.Client{Transport: &http.Transport{}},
		exited:   make(chan struct{}),
	}
	if _, err := p.Run(ctx, "init", "--profile=test", "--empty-repo"); err != nil {
		t.Fatal(err)
	}
	if err := Configure(p.Repo, opts.Config); err != nil {
		t.Fatal(err)
	}

	logFile, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatalf("kubopeer: create daemon log: %v", err)
	}
	p.cmd = exec.Command(bin, append([]string{"daemon"}, opts.DaemonArgs...)...)
	p.cmd.Env = p.env()
	p.cmd.Stdout = logFile
	p.cmd.Stderr = logFile
	p.cmd.SysProcAttr = daemonProcAttr()
	if err := p.cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("kubopeer: start daemon: %v", err)
	}
	_ = logFile.Close() // the child holds its own descriptor
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Log(err)
		}
		if t.Failed() {
			t.Logf("kubopeer: daemon %s log tail (%s):\n%s", p.PeerID, p.LogPath, p.logTail())
		}
	})

	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	if err := p.waitReady(ctx, timeout); err != nil {
		t.Fatalf("kubopeer: %v\ndaemon log tail (%s):\n%s", err, p.LogPath, p.logTail())
	}
	return p
}

// Stop stops the daemon: SIGINT, then SIGKILL if it has not exited within
// 15 s. It is idempotent and returns the same result every time: nil if the
// daemon shut down on SIGINT (or had already exited), else an error saying it
// had to be killed. The repository is left in place; t's cleanup removes it.
func (p *Peer) Stop() error {
	p.stopOnce.Do(func() {
		defer p.client.CloseIdleConnections()
		select {
		case <-p.exited:
			return
		default:
		}
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.stopErr = fmt.Errorf("kubopeer: stop daemon %s: interrupt: %w", p.PeerID, err)
		}
		timer := time.NewTimer(stopGrace)
		defer timer.Stop()
		select {
		case <-p.exited:
			return
		case <-timer.C:
		}
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.stopErr = fmt.Errorf("kubopeer: stop daemon %s: killed after no exit within %s of SIGINT", p.PeerID, stopGrace)
	})
	return p.stopErr
}

// Run runs the Kubo CLI with args against this peer's repository (IPFS_PATH
// is set, so while the daemon runs the CLI talks to it) and returns its
// stdout. A non-zero exit gives an error carrying the CLI's stderr.
// Cancelling ctx kills the CLI process.
func (p *Peer) Run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, p.Bin, args...)
	cmd.Env = p.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return stdout.Bytes(), fmt.Errorf("kubopeer: ipfs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// env is the environment of every Kubo process of this peer.
func (p *Peer) env() []string { return Env(p.Repo, p.extraEnv...) }

// waitReady polls until the daemon has written its API and gateway files and
// its API reports the swarm addresses, filling in p's exported fields.
func (p *Peer) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(startPoll)
	defer ticker.Stop()
	var last error
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("daemon exited during start-up: %v", p.waitErr)
		default:
		}
		last = p.probe(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("daemon not ready within %s: %w (last: %v)", timeout, ctx.Err(), last)
		case <-p.exited:
			return fmt.Errorf("daemon exited during start-up: %v", p.waitErr)
		case <-ticker.C:
		}
	}
}

// probe makes one readiness check.
func (p *Peer) probe(ctx context.Context) error {
	apiAddr, err := os.ReadFile(filepath.Join(p.Repo, "api"))
	if err != nil {
		return fmt.Errorf("read api file: %w", err)
	}
	hostport, err := multiaddrHostPort(strings.TrimSpace(string(apiAddr)))
	if err != nil {
		return fmt.Errorf("api file: %w", err)
	}
	gw, err := os.ReadFile(filepath.Join(p.Repo, "gateway"))
	if err != nil {
		return fmt.Errorf("read gateway file: %w", err)
	}
	p.APIAddr = strings.TrimSpace(string(apiAddr))
	p.APIURL = "http://" + hostport
	var id struct {
		ID        string
		Addresses []string
	}
	if err := p.rpcJSON(ctx, "id", nil, nil, &id); err != nil {
		return err
	}
	if id.ID == "" || len(id.Addresses) == 0 {
		return fmt.Errorf("id: no peer ID or addresses yet")
	}
	p.PeerID = id.ID
	p.SwarmAddrs = id.Addresses
	p.GatewayURL = strings.TrimSpace(string(gw))
	return nil
}

// multiaddrHostPort turns /ip4/A/tcp/P or /ip6/A/tcp/P into host:port.
func multiaddrHostPort(ma string) (string, error) {
	parts := strings.Split(ma, "/")
	if len(parts) < 5 || parts[0] != "" || (parts[1] != "ip4" && parts[1] != "ip6") || parts[3] != "tcp" {
		return "", fmt.Errorf("unsupported API multiaddr %q", ma)
	}
	return net.JoinHostPort(parts[2], parts[4]), nil
}

// logTail returns the last lines of the daemon log.
func (p *Peer) logTail() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return tail(b, logTailLines)
}
