package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/commons-p2p/commons/node/nodetest/kubopeer"
)

// kuboImpl drives a Kubo (`ipfs`) binary, the reference implementation.
type kuboImpl struct {
	bin     string
	timeout time.Duration // per command
	hc      *http.Client
}

var _ impl = (*kuboImpl)(nil)

func (k *kuboImpl) Name() string { return "kubo" }

// env points Kubo at dir and keeps it from phoning home, exactly as the
// interop tests run it.
func (k *kuboImpl) env(dir string) []string { return kubopeer.Env(dir) }

func (k *kuboImpl) run(ctx context.Context, dir string, args ...string) (cmdResult, error) {
	return runCLI(ctx, k.timeout, k.env(dir), k.bin, args...)
}

func (k *kuboImpl) Version(ctx context.Context) (string, error) {
	// Kubo loads its plugins, and so reads IPFS_PATH, even for `version`.
	dir, err := os.MkdirTemp("", "commons-bench-kubo-version-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	res, err := runCLI(ctx, k.timeout, k.env(dir), k.bin, "version")
	return strings.TrimSpace(string(res.Stdout)), err
}

// Init makes a Kubo repo configured as the interop tests' (kubopeer):
// loopback only, kernel-chosen ports, nothing that reaches the internet.
func (k *kuboImpl) Init(ctx context.Context, dir string) error {
	if _, err := k.run(ctx, dir, "init", "--profile=test", "--empty-repo"); err != nil {
		return err
	}
	return kubopeer.Configure(dir, nil)
}

// Kubo's import settings the bench uses: kuboBuzhash gives the same UnixFS
// as commons's import (and so the same CIDs); kuboFixed is the same with
// Kubo's default chunker (size-262144); kuboDefaults is what a Kubo user
// gets with no flags (CIDv0, dag-pb leaves, size-262144). Read-only.
var (
	kuboBuzhash  = []string{"--cid-version=1", "--raw-leaves", "--chunker=buzhash"}
	kuboFixed    = []string{"--cid-version=1", "--raw-leaves"}
	kuboDefaults = []string{}
)

func (k *kuboImpl) Add(ctx context.Context, dir, folder string) (string, cmdResult, error) {
	return k.AddWith(ctx, dir, folder, kuboBuzhash...)
}

// AddWith is Add with the given `ipfs add` flags instead of buzhash's.
func (k *kuboImpl) AddWith(ctx context.Context, dir, folder string, flags ...string) (string, cmdResult, error) {
	args := append([]string{"add", "-r", "-Q"}, flags...)
	res, err := k.run(ctx, dir, append(args, folder)...)
	if err != nil {
		return "", res, err
	}
	root := strings.TrimSpace(string(res.Stdout))
	if root == "" || strings.ContainsAny(root, " \n") {
		return "", res, fmt.Errorf("ipfs add printed %q, want one CID", res.Stdout)
	}
	return root, res, nil
}

func (k *kuboImpl) Start(ctx context.Context, sup *supervisor, name, dir string) (*daemon, error) {
	_ = os.Remove(filepath.Join(dir, "api"))
	d, err := sup.start(name, dir, dir+".log", k.env(dir), k.bin, "daemon")
	if err != nil {
		return nil, err
	}
	probe := func(ctx context.Context) error {
		b, err := os.ReadFile(filepath.Join(dir, "api"))
		if err != nil {
			return err
		}
		hostport, err := multiaddrHostPort(strings.TrimSpace(string(b)))
		if err != nil {
			return err
		}
		base := "http://" + hostport
		var id struct {
			ID        string
			Addresses []string
		}
		if err := postJSON(ctx, k.hc, base+"/api/v0/id", "", &id); err != nil {
			return err
		}
		a, ok := tcpAddr(id.Addresses)
		if !ok {
			return fmt.Errorf("id: no loopback TCP address among %q", id.Addresses)
		}
		gw, err := kuboGateway(d.logPath)
		if err != nil {
			return err
		}
		d.apiURL, d.swarm, d.gatewayURL = base, a, gw
		return nil
	}
	if err := d.waitReady(ctx, startTimeout, probe); err != nil {
		_ = sup.stop(d)
		return nil, err
	}
	return d, nil
}

func (k *kuboImpl) Connect(ctx context.Context, d *daemon, addr string) error {
	_, err := k.run(ctx, d.repo, "swarm", "connect", addr)
	return err
}

func (k *kuboImpl) Pin(ctx context.Context, d *daemon, root string) (cmdResult, error) {
	return k.run(ctx, d.repo, "pin", "add", root)
}

func (k *kuboImpl) Export(ctx context.Context, dir, root, car string) error {
	f, err := os.Create(car)
	if err != nil {
		return fmt.Errorf("export %s: %w", root, err)
	}
	_, err = runCLITo(ctx, k.timeout, f, k.env(dir), k.bin, "dag", "export", root)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("export %s: %w", root, cerr)
	}
	return err
}

// multiaddrHostPort turns /ip4/A/tcp/P (Kubo's api file) into A:P.
func multiaddrHostPort(ma string) (string, error) {
	p := strings.Split(ma, "/")
	if len(p) < 5 || p[0] != "" || (p[1] != "ip4" && p[1] != "ip6") || p[3] != "tcp" {
		return "", fmt.Errorf("unsupported API multiaddr %q", ma)
	}
	return net.JoinHostPort(p[2], p[4]), nil
}

// kuboGateway finds the gateway's address in the daemon's log: Kubo prints
// "Gateway server listening on /ip4/A/tcp/P" once it listens, and writes
// no file with it (its config says port 0).
func kuboGateway(logPath string) (string, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "", err
	}
	const prefix = "Gateway server listening on "
	for line := range strings.SplitSeq(string(b), "\n") {
		if ma, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			hostport, err := multiaddrHostPort(ma)
			if err != nil {
				return "", err
			}
			return "http://" + hostport, nil
		}
	}
	return "", fmt.Errorf("no %q line in %s yet", prefix, logPath)
}
