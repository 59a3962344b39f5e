package main

// The harness for the end-to-end tests: it runs the real commons binary
// ($COMMONS_BIN, or one built once per test process), makes repos in
// t.TempDir, starts and stops daemons, and waits for them by polling with a
// deadline, never by sleeping for a guessed time.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
)

// Deadlines. They are generous because CI machines are small and noisy;
// nothing asserts how fast anything is, only that it ends.
const (
	commandDeadline = 90 * time.Second // one CLI command
	readyDeadline   = 60 * time.Second // a daemon answering on its API
	stopDeadline    = 30 * time.Second // a daemon exiting after SIGINT
	pollInterval    = 50 * time.Millisecond
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string // temp dir of a self-built binary, removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// commonsBin returns the binary under test: $COMMONS_BIN if set (the
// Makefile sets it to bin/commons), else one built from this package with
// `go build`, once per test process, on first use.
func commonsBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if b := os.Getenv("COMMONS_BIN"); b != "" {
			binPath, binErr = filepath.Abs(b)
			if binErr == nil {
				_, binErr = os.Stat(binPath)
			}
			return
		}
		binDir, binErr = os.MkdirTemp("", "commons-e2e-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "commons")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/commons: %v\n%s", err, out.Bytes())
		}
	})
	if binErr != nil {
		t.Fatalf("commons binary: %v", binErr)
	}
	return binPath
}

// commandEnv is the environment of every command: the test's own, without
// COMMONS_REPO, so that only --repo chooses the repo.
func commandEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMMONS_REPO=") {
			env = append(env, kv)
		}
	}
	return env
}

// result is what one command did.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("commons %s: exit %d\n--- stdout\n%s\n--- stderr\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// runCommons runs the binary with args in dir and returns what it did. A
// command that does not end within commandDeadline fails the test.
func runCommons(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runCommonsStdin(t, dir, nil, args...)
}

// runCommonsStdin is runCommons with stdin as the command's standard input
// (nil: none).
func runCommonsStdin(t *testing.T, dir string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, commonsBin(t), args...)
	cmd.Dir = dir
	cmd.Env = commandEnv()
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("commons %s did not end within %s\n%s", strings.Join(args, " "), commandDeadline, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run commons %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustOK fails the test unless the command exited 0.
func mustOK(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit 0, got\n%s", r)
	}
	return r
}

// mustFail fails the test unless the command exited with code and its
// stderr contains every one of msgs (case-insensitively).
func mustFail(t *testing.T, r result, code int, msgs ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("want exit %d, got\n%s", code, r)
		return
	}
	for _, m := range msgs {
		if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(m)) {
			t.Errorf("want stderr to mention %q, got\n%s", m, r)
		}
	}
}

// decode parses a command's stdout as JSON into a T.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("stdout is not the JSON of a %T: %v\n%s", v, err, r)
	}
	return v
}

// testRepo is a commons repo made by `commons init` in a test's temp dir.
type testRepo struct {
	t      *testing.T
	path   string
	peerID string
}

// newRepo runs `commons init --profile test` in a new directory under a
// t.TempDir and returns the repo.
func newRepo(t *testing.T, name string) *testRepo {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	r := mustOK(t, runCommons(t, filepath.Dir(path), "--repo", path, "init", "--profile", "test", "--json"))
	out := decode[struct {
		Repo    string `json:"repo"`
		PeerID  string `json:"peer_id"`
		Profile string `json:"profile"`
	}](t, r)
	if out.PeerID == "" || out.Profile != "test" {
		t.Fatalf("init printed %+v", out)
	}
	return &testRepo{t: t, path: path, peerID: out.PeerID}
}

// in returns the repo bound to t, for use inside a subtest: failures are
// reported to (and stop) the subtest.
func (r *testRepo) in(t *testing.T) *testRepo {
	c := *r
	c.t = t
	return &c
}

// run runs a command on the repo (through its daemon if one runs, else on
// the repo directly, as the CLI decides). Relative paths in args are
// relative to the repo's parent directory.
func (r *testRepo) run(args ...string) result {
	r.t.Helper()
	return runCommons(r.t, filepath.Dir(r.path), append([]string{"--repo", r.path}, args...)...)
}

// ok runs a command that must succeed.
func (r *testRepo) ok(args ...string) result {
	r.t.Helper()
	return mustOK(r.t, r.run(args...))
}

// file returns the path of a file in the repo.
func (r *testRepo) file(name string) string { return filepath.Join(r.path, name) }

// exists reports whether the repo has a file called name.
func (r *testRepo) exists(name string) bool {
	_, err := os.Lstat(r.file(name))
	return err == nil
}

// pins returns `pin ls --json`.
func (r *testRepo) pins() []api.PinInfo {
	r.t.Helper()
	return decode[[]api.PinInfo](r.t, r.ok("pin", "ls", "--json"))
}

// contentPins returns the pins other than the node's own library root
// (which every bundle publish updates).
func (r *testRepo) contentPins() []api.PinInfo {
	r.t.Helper()
	var out []api.PinInfo
	for _, p := range r.pins() {
		if p.Name != "library" {
			out = append(out, p)
		}
	}
	return out
}

// pinned reports whether c is among the repo's pins.
func (r *testRepo) pinned(c cid.Cid) bool {
	r.t.Helper()
	for _, p := range r.pins() {
		if p.CID.Equals(c) {
			return true
		}
	}
	return false
}

// gc runs `gc --json`.
func (r *testRepo) gc() api.GCResult {
	r.t.Helper()
	return decode[api.GCResult](r.t, r.ok("gc", "--json"))
}

// publish publishes dir with --json and returns the result.
func (r *testRepo) publish(dir string) api.PublishResult {
	r.t.Helper()
	res := decode[api.PublishResult](r.t, r.ok("publish", "--json", dir))
	if !res.CID.Defined() {
		r.t.Fatalf("publish %s printed no CID", dir)
	}
	return res
}

// setConfig replaces `key = ...` in [section] of the repo's config.toml.
func (r *testRepo) setConfig(section, key, value string) {
	r.t.Helper()
	b, err := os.ReadFile(r.file("config.toml"))
	if err != nil {
		r.t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	in, done := false, false
	for i, l := range lines {
		if strings.HasPrefix(l, "[") {
			in = strings.TrimSpace(l) == "["+section+"]"
			continue
		}
		if in && strings.HasPrefix(l, key+" =") {
			lines[i] = key + " = " + value
			done = true
		}
	}
	if !done {
		r.t.Fatalf("config.toml has no %s.%s:\n%s", section, key, b)
	}
	if err := os.WriteFile(r.file("config.toml"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// daemon is a running `commons daemon`.
type daemon struct {
	t       *testing.T
	repo    *testRepo
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	api     string
	gateway string
	listen  []string
}

// start starts `commons daemon` on the repo and waits until its API
// answers as this repo's node. The daemon is stopped at cleanup (SIGINT,
// then SIGKILL), and its log tail is printed if the test failed.
func (r *testRepo) start() *daemon {
	r.t.Helper()
	d := r.spawnDaemon()
	d.waitReady()
	return d
}

// spawnDaemon starts `commons daemon` on the repo, its command line
// preceded by prefix if any (e.g. "ip", "netns", "exec", NAME), and
// registers its cleanup as start does, but does not wait for it.
func (r *testRepo) spawnDaemon(prefix ...string) *daemon {
	t := r.t
	t.Helper()
	// The log lives outside the repo, in a temp dir made before the
	// cleanup below is registered, so it is removed after the daemon stops.
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string{}, prefix...), commonsBin(t), "--repo", r.path, "daemon")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(r.path)
	cmd.Env = commandEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close() // the child has its own copy
	if err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	d := &daemon{t: t, repo: r, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon on %s (pid %d), last lines of its log:\n%s", r.path, cmd.Process.Pid, d.logTail(40))
		}
	})
	return d
}

// exited reports whether the daemon process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// exitCode returns the daemon's exit code (-1 if a signal ended it). It
// must only be called once the process has exited.
func (d *daemon) exitCode() int { return d.cmd.ProcessState.ExitCode() }

// waitReady polls until the repo's api file names a URL at which this
// repo's node answers, then reads the gateway and listen files. A stale api
// file left by a killed daemon does not satisfy it: nothing answers there,
// or something else does.
func (d *daemon) waitReady() {
	d.t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	var last string
	ok := poll(readyDeadline, d.done, func() bool {
		url := readTrimmed(d.repo.file("api"))
		if url == "" {
			last = "no api file yet"
			return false
		}
		req, err := http.NewRequest(http.MethodPost, url+api.Prefix+"id", nil)
		if err != nil {
			last = err.Error()
			return false
		}
		req.Header.Set("Authorization", "Bearer "+readTrimmed(d.repo.file(api.TokenFile)))
		resp, err := hc.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		var info api.IDInfo
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil {
			last = fmt.Sprintf("%s answered HTTP %d", url, resp.StatusCode)
			return false
		}
		if info.PeerID != d.repo.peerID {
			last = fmt.Sprintf("%s answered as %s, not %s", url, info.PeerID, d.repo.peerID)
			return false
		}
		d.api = url
		return true
	})
	if d.exited() {
		d.t.Fatalf("daemon on %s exited with code %d before it was ready", d.repo.path, d.exitCode())
	}
	if !ok {
		d.t.Fatalf("daemon on %s not ready within %s: %s", d.repo.path, readyDeadline, last)
	}
	d.gateway = readTrimmed(d.repo.file("gateway"))
	for _, l := range strings.Split(readTrimmed(d.repo.file("listen")), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			d.listen = append(d.listen, l)
		}
	}
	if d.gateway == "" || len(d.listen) == 0 {
		d.t.Fatalf("daemon on %s is ready but wrote gateway %q, listen %q", d.repo.path, d.gateway, d.listen)
	}
}

// stop sends SIGINT, waits up to stopDeadline, then sends SIGKILL, and
// returns the exit code (-1 if killed). Stopping a stopped daemon only
// returns its code.
func (d *daemon) stop() int {
	if d.exited() {
		return d.exitCode()
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	if d.waitExit(stopDeadline) {
		return d.exitCode()
	}
	d.t.Errorf("daemon on %s did not exit within %s of SIGINT; killing it", d.repo.path, stopDeadline)
	d.kill()
	return d.exitCode()
}

// waitExit waits up to deadline for the process to end and reports
// whether it did.
func (d *daemon) waitExit(deadline time.Duration) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(deadline):
		return false
	}
}

// kill sends SIGKILL and waits for the process to end.
func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	if !d.waitExit(stopDeadline) {
		d.t.Fatalf("daemon on %s still running %s after SIGKILL", d.repo.path, stopDeadline)
	}
}

// logTail returns the last n lines of the daemon's output.
func (d *daemon) logTail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// poll calls cond every pollInterval until it returns true (true), the
// deadline passes (false) or stop is closed (false).
func poll(deadline time.Duration, stop <-chan struct{}, cond func() bool) bool {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	timeout := time.After(deadline)
	for {
		if cond() {
			return true
		}
		select {
		case <-stop:
			return cond()
		case <-timeout:
			return false
		case <-tick.C:
		}
	}
}

func readTrimmed(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// demoBundle is the demo design bundle at the root of the module.
func demoBundle(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "demo", "brick-press"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "bom.csv")); err != nil {
		t.Fatalf("demo bundle: %v", err)
	}
	return p
}

// treeOf describes a folder: each relative path maps to "dir", the bytes of
// a file, or "-> target" for a symlink.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			tree[rel] = "-> " + target
			return err
		case e.IsDir():
			tree[rel] = "dir"
		case e.Type().IsRegular():
			b, err := os.ReadFile(p)
			tree[rel] = "file " + string(b)
			return err
		default:
			tree[rel] = "special " + e.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return tree
}

// sameBundleTree is sameTree for a fetched bundle: got also holds the
// bundle's .commons/ metadata folder, with the signed manifest.
func sameBundleTree(t *testing.T, want, got string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(got, ".commons", "bundle.cbor")); err != nil {
		t.Errorf("the fetched bundle has no manifest: %v", err)
	}
	rest := t.TempDir()
	if err := os.Rename(filepath.Join(got, ".commons"), filepath.Join(rest, ".commons")); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(filepath.Join(rest, ".commons"), filepath.Join(got, ".commons"))
	sameTree(t, want, got)
}

// sameTree fails the test unless got holds exactly the folders, files
// (byte for byte) and symlinks of want.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	w, g := treeOf(t, want), treeOf(t, got)
	for p, wv := range w {
		gv, ok := g[p]
		switch {
		case !ok:
			t.Errorf("%s: missing from %s", p, got)
		case gv != wv:
			t.Errorf("%s differs:\nwant %.200q\ngot  %.200q", p, wv, gv)
		}
	}
	for p := range g {
		if _, ok := w[p]; !ok {
			t.Errorf("%s: in %s but not in %s", p, got, want)
		}
	}
}

// httpGet fetches url and returns its status and body.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	hc := &http.Client{Timeout: commandDeadline}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, b
}

// mustRead returns a file's bytes.
func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
