package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// kuboImpl drives a Kubo (`ipfs`) binary, the reference implementation.
type kuboImpl struct {
	bin     string
	timeout time.Duration // per command
	hc      *http.Client
}

var _ impl = (*kuboImpl)(nil)

func (k *kuboImpl) Name() string { return "kubo" }

// env points Kubo at dir and keeps it from phoning home.
func (k *kuboImpl) env(dir string) []string {
	return envWith([]string{"IPFS_PATH", "IPFS_TELEMETRY", "DO_NOT_TRACK", "TEST_DHT_STUB", "GOLOG_LOG_LEVEL"},
		"IPFS_PATH="+dir, "IPFS_TELEMETRY=off", "DO_NOT_TRACK=1")
}

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

// kuboConfig are the settings applied on top of `ipfs init --profile=test`:
// loopback only with kernel-chosen ports, nothing that reaches the internet.
// The test profile sets most of them already; they are repeated so that a
// change of the profile in a later Kubo cannot quietly change the setup.
// They are the same as node/nodetest/kubopeer's, minus what only matters for
// DHT interop.
var kuboConfig = []struct {
	key   string
	value any
}{
	{"Addresses.API", []string{"/ip4/127.0.0.1/tcp/0"}},
	{"Addresses.Gateway", []string{"/ip4/127.0.0.1/tcp/0"}},
	{"Addresses.Swarm", []string{"/ip4/127.0.0.1/tcp/0"}},
	{"Bootstrap", []string{}},
	{"Peering.Peers", []any{}},
	{"Discovery.MDNS.Enabled", false},
	{"AutoConf.Enabled", false},
	{"AutoTLS.Enabled", false},
	{"Routing.Type", "dhtserver"}, // as commons's test profile: an always-serving DHT
	{"Routing.DelegatedRouters", []string{}},
	{"Ipns.DelegatedPublishers", []string{}},
	{"DNS.Resolvers", map[string]any{}},
	{"Swarm.DisableNatPortMap", true},
	{"Swarm.RelayClient.Enabled", false},
	{"Plugins.Plugins.telemetry.Config", map[string]any{"Mode": "off"}},
}

func (k *kuboImpl) Init(ctx context.Context, dir string) error {
	if _, err := k.run(ctx, dir, "init", "--profile=test", "--empty-repo"); err != nil {
		return err
	}
	// Editing the file directly saves a process start per key.
	path := filepath.Join(dir, "config")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kubo config: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("kubo config %s: %w", path, err)
	}
	for _, e := range kuboConfig {
		setPath(cfg, strings.Split(e.key, "."), e.value)
	}
	b, err = json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("kubo config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("kubo config: %w", err)
	}
	return nil
}

// setPath sets m[p0][p1]...[pn] = v, creating (or replacing non-object)
// intermediate objects.
func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func (k *kuboImpl) Add(ctx context.Context, dir, folder string) (string, cmdResult, error) {
	res, err := k.run(ctx, dir, "add", "-r", "-Q", "--cid-version=1", "--raw-leaves", "--chunker=buzhash", folder)
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
		if err := postJSON(ctx, k.hc, base+"/api/v0/id", &id); err != nil {
			return err
		}
		a, ok := tcpAddr(id.Addresses)
		if !ok {
			return fmt.Errorf("id: no loopback TCP address among %q", id.Addresses)
		}
		d.apiURL, d.swarm = base, a
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

// multiaddrHostPort turns /ip4/A/tcp/P (Kubo's api file) into A:P.
func multiaddrHostPort(ma string) (string, error) {
	p := strings.Split(ma, "/")
	if len(p) < 5 || p[0] != "" || (p[1] != "ip4" && p[1] != "ip6") || p[3] != "tcp" {
		return "", fmt.Errorf("unsupported API multiaddr %q", ma)
	}
	return net.JoinHostPort(p[2], p[4]), nil
}
