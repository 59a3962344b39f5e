package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

const (
	// stopGrace is how long a daemon gets after SIGINT before SIGKILL.
	stopGrace = 15 * time.Second
	// readyPoll is how often a starting daemon is probed.
	readyPoll = 100 * time.Millisecond
	// logTailLines is how much of a daemon's log an error shows.
	logTailLines = 30
)

// cmdResult is what one finished CLI command cost.
type cmdResult struct {
	Stdout  []byte
	Elapsed time.Duration // wall clock from fork to exit
	CPU     time.Duration // user+system time of the process
}

// runCLI runs bin with args and env (nil: the bench's own) and waits at most
// timeout. A non-zero exit is an error that carries the command's stderr.
// Cancelling ctx kills the command.
func runCLI(ctx context.Context, timeout time.Duration, env []string, bin string, args ...string) (cmdResult, error) {
	return runCLITo(ctx, timeout, nil, env, bin, args...)
}

// runCLITo is runCLI writing the command's standard output to out instead
// of keeping it in memory (for output as large as a CAR of a DAG); nil
// keeps it in the result's Stdout.
func runCLITo(ctx context.Context, timeout time.Duration, out io.Writer, env []string, bin string, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.SysProcAttr = childProcAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	if out != nil {
		cmd.Stdout = out
	}
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	res := cmdResult{Stdout: stdout.Bytes(), Elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (limit %s)", ctx.Err(), timeout)
		}
		return res, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, tail(stderr.Bytes(), logTailLines))
	}
	return res, nil
}

// daemon is one running node process (commons or Kubo).
type daemon struct {
	name    string // for messages, e.g. "commons A"
	repo    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returns
	waitErr error         // valid once exited is closed

	// Filled in by the implementation's readiness probe.
	apiURL     string // base URL of its HTTP API
	gatewayURL string // base URL of its HTTP gateway
	swarm      string // a TCP multiaddr ending in /p2p/<id>, to connect to it

	stopOnce sync.Once
	stopErr  error
}

// pid returns the daemon's process ID.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// stop sends SIGINT and waits up to stopGrace for the daemon to exit, then
// kills it. It is idempotent and returns the same result every time: nil for
// a clean exit (or one that had already happened).
func (d *daemon) stop() error {
	d.stopOnce.Do(func() {
		select {
		case <-d.exited:
			return
		default:
		}
		if err := d.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			d.stopErr = fmt.Errorf("stop %s: %w", d.name, err)
		}
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-d.exited:
			return
		case <-t.C:
		}
		_ = d.cmd.Process.Kill()
		<-d.exited
		d.stopErr = fmt.Errorf("stop %s: killed after no exit within %s of SIGINT", d.name, stopGrace)
	})
	return d.stopErr
}

// logTail returns the end of the daemon's log, for error messages.
func (d *daemon) logTail() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", d.logPath, err)
	}
	return tail(b, logTailLines)
}

// waitReady calls probe every readyPoll until it succeeds, the daemon exits,
// or timeout passes.
func (d *daemon) waitReady(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("%s exited while starting (%v); log %s:\n%s", d.name, d.waitErr, d.logPath, d.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s (last probe: %v); log %s:\n%s", d.name, timeout, err, d.logPath, d.logTail())
		case <-tick.C:
		}
	}
}

// supervisor starts daemons and makes sure every one is stopped, including
// when the bench fails or is interrupted.
type supervisor struct {
	mu   sync.Mutex
	live map[*daemon]struct{}
}

func newSupervisor() *supervisor { return &supervisor{live: map[*daemon]struct{}{}} }

// start runs bin with args as a daemon whose stdout and stderr go to
// logPath. It does not wait for readiness.
func (s *supervisor) start(name, repo, logPath string, env []string, bin string, args ...string) (*daemon, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, repo: repo, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	s.mu.Lock()
	s.live[d] = struct{}{}
	s.mu.Unlock()
	return d, nil
}

// stop stops d and forgets it.
func (s *supervisor) stop(d *daemon) error {
	err := d.stop()
	s.mu.Lock()
	delete(s.live, d)
	s.mu.Unlock()
	return err
}

// stopAll stops every daemon still running, in parallel.
func (s *supervisor) stopAll() []error {
	s.mu.Lock()
	ds := make([]*daemon, 0, len(s.live))
	for d := range s.live {
		ds = append(ds, d)
	}
	s.mu.Unlock()
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { errs[i] = s.stop(d) })
	}
	wg.Wait()
	return errs
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// envWithout returns the bench's environment without the named variables.
func envWithout(drop ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, k := range drop {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}
