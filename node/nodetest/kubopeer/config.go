package kubopeer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// setting is one Kubo configuration key (dot-separated) and its value.
type setting struct {
	key   string
	value any
}

// loopbackConfig is applied on top of `ipfs init --profile=test`: loopback
// only with kernel-chosen ports, an always-serving DHT, and nothing that
// reaches the internet. The test profile sets most of it already; it is
// repeated so that a change of the profile in a later Kubo cannot quietly
// let a test or a benchmark reach the internet.
var loopbackConfig = []setting{
	{"Addresses.API", []string{"/ip4/127.0.0.1/tcp/0"}},
	{"Addresses.Gateway", []string{"/ip4/127.0.0.1/tcp/0"}},
	{"Addresses.Swarm", []string{"/ip4/127.0.0.1/tcp/0"}},
	{"Bootstrap", []string{}},
	{"Peering.Peers", []any{}},
	{"Discovery.MDNS.Enabled", false},
	{"AutoConf.Enabled", false},
	{"AutoTLS.Enabled", false},
	{"Routing.Type", "dhtserver"}, // answer DHT queries and store provider records from our nodes
	{"Routing.DelegatedRouters", []string{}},
	{"Routing.LoopbackAddressesOnLanDHT", true},
	{"Ipns.DelegatedPublishers", []string{}},
	{"DNS.Resolvers", map[string]any{}},
	{"Swarm.DisableNatPortMap", true},
	{"Swarm.RelayClient.Enabled", false},
	{"Plugins.Plugins.telemetry.Config", map[string]any{"Mode": "off"}},
}

// Configure applies the loopback-only settings, then extra (in key order,
// so they can override the defaults), to the Kubo repository at repo, made
// by `ipfs init`. Keys are dot-separated as for `ipfs config --json`. It
// edits the config file directly: a process start per key would cost
// seconds. The interop tests (Start) and the benchmark both use it, so the
// two run Kubo the same way.
func Configure(repo string, extra map[string]any) error {
	path := filepath.Join(repo, "config")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("kubopeer: read config: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("kubopeer: config %s: %w", path, err)
	}
	edits := slices.Clone(loopbackConfig)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		edits = append(edits, setting{k, extra[k]})
	}
	for _, e := range edits {
		setPath(cfg, strings.Split(e.key, "."), e.value)
	}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return fmt.Errorf("kubopeer: encode config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("kubopeer: write config: %w", err)
	}
	return nil
}

// setPath sets m[p0][p1]...[pn] = v, creating (or replacing a non-object)
// intermediate objects, as `ipfs config --json` does.
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

// Env returns the environment of a Kubo process on the repository at repo:
// this process's environment without variables that would change Kubo's
// behaviour, then IPFS_PATH, telemetry off, and TEST_DHT_STUB=1, then extra
// (KEY=VALUE entries, which win).
//
// TEST_DHT_STUB=1 lifts the filters that keep loopback peers out of Kubo's
// WAN DHT (/ipfs/kad/1.0.0): without it Kubo only puts loopback peers in its
// LAN DHT (/ipfs/lan/kad/1.0.0), so it would neither store our nodes'
// provider records in its WAN table nor send its own to them.
func Env(repo string, extra ...string) []string {
	env := append(filteredEnv("IPFS_PATH", "IPFS_TELEMETRY", "DO_NOT_TRACK", "TEST_DHT_STUB", "GOLOG_LOG_LEVEL"),
		"IPFS_PATH="+repo,
		"IPFS_TELEMETRY=off",
		"DO_NOT_TRACK=1",
		"TEST_DHT_STUB=1",
	)
	return append(env, extra...)
}
