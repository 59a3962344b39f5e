// Command commons runs and controls a commons node: a peer on the IPFS
// network that publishes, pins, finds and serves open-hardware design
// bundles. Run `commons --help` for the commands, and docs/operations.md for
// configuration, files and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/repo"
)

// Exit codes. Documented in docs/operations.md and in `commons --help`.
const (
	exitOK       = 0
	exitError    = 1 // anything not listed below
	exitUsage    = 2 // wrong arguments or flags
	exitNotFound = 3 // content not found on the network within fetch.timeout, or not pinned
	exitInvalid  = 4 // input refused: malformed CID or path, unsafe folder, damaged CAR
	exitRepo     = 5 // no repo, repo in use, bad config
	exitOffline  = 6 // needs the network: start `commons daemon`
	exitDamaged  = 7 // verify found damage that remains
	exitPartial  = 8 // export wrote a CAR that lacks versions this node does not hold
	exitNoSpace  = 9 // the repo's disk is full (or below datastore.min_free); nothing half-done was kept
	exitSignal   = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal starts a clean stop, restore the default
		// handling, so a second Ctrl-C ends a stop that hangs.
		<-ctx.Done()
		stop()
	}()
	endProfile := startProfile(os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	endProfile()
	os.Exit(code)
}

// startProfile starts the profiles that COMMONS_CPUPROFILE and
// COMMONS_MEMPROFILE name (files; docs/operations.md "Profiling"), for any
// command, the daemon included, and returns what writes them at the end.
func startProfile(stderr io.Writer) func() {
	cpuPath, memPath := os.Getenv("COMMONS_CPUPROFILE"), os.Getenv("COMMONS_MEMPROFILE")
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "commons: COMMONS_CPUPROFILE: %v (no CPU profile is written)\n", err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				fmt.Fprintf(stderr, "commons: COMMONS_CPUPROFILE: %v\n", err)
			}
		}
		if memPath != "" {
			f, err := os.Create(memPath)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "commons: COMMONS_MEMPROFILE: %v\n", err)
			}
		}
	}
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "commons: %v\n", err)
	return exitCode(ctx, err)
}

// usageError marks a wrong command line.
type usageError struct{ error }

func exitCode(ctx context.Context, err error) int {
	var ue usageError
	var pe partialError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &pe):
		return exitPartial
	case ctx.Err() != nil:
		return exitSignal
	case api.IsNoSpace(err):
		return exitNoSpace
	case errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrNotPinned):
		return exitNotFound
	case errors.Is(err, api.ErrInvalid):
		return exitInvalid
	case errors.Is(err, repo.ErrNotInitialized), errors.Is(err, repo.ErrLocked), errors.Is(err, repo.ErrExists), errors.Is(err, config.ErrInvalid):
		return exitRepo
	case errors.Is(err, api.ErrOffline):
		return exitOffline
	case errors.Is(err, api.ErrDamaged):
		return exitDamaged
	}
	return exitError
}
