package kubopeer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestConfigureLoopbackAndOverrides(t *testing.T) {
	repo := t.TempDir()
	initial := `{"Addresses":{"Swarm":["/ip4/0.0.0.0/tcp/4001"],"API":"/ip4/127.0.0.1/tcp/5001"},"Bootstrap":["/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"],"Routing":"not-an-object","Keep":1}`
	if err := os.WriteFile(filepath.Join(repo, "config"), []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Configure(repo, map[string]any{"Routing.Type": "dhtclient", "Swarm.ConnMgr.HighWater": 10}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(repo, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	get := func(keys ...string) any {
		var v any = cfg
		for _, k := range keys {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	for _, c := range []struct {
		keys []string
		want any
	}{
		{[]string{"Addresses", "Swarm"}, []any{"/ip4/127.0.0.1/tcp/0"}},
		{[]string{"Addresses", "API"}, []any{"/ip4/127.0.0.1/tcp/0"}},
		{[]string{"Bootstrap"}, []any{}},
		{[]string{"Discovery", "MDNS", "Enabled"}, false},
		{[]string{"Routing", "Type"}, "dhtclient"}, // the extra edit wins, and a non-object parent is replaced
		{[]string{"Swarm", "ConnMgr", "HighWater"}, float64(10)},
		{[]string{"Swarm", "DisableNatPortMap"}, true},
		{[]string{"Keep"}, float64(1)}, // untouched keys stay
	} {
		if got := get(c.keys...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v = %#v, want %#v", c.keys, got, c.want)
		}
	}
}

func TestEnvPointsAtRepoAndExtraWins(t *testing.T) {
	t.Setenv("IPFS_PATH", "/elsewhere")
	t.Setenv("GOLOG_LOG_LEVEL", "debug")
	env := Env("/repo", "TEST_DHT_STUB=")
	last := map[string]string{}
	for _, kv := range env {
		for i := range kv {
			if kv[i] == '=' {
				last[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	if last["IPFS_PATH"] != "/repo" || last["IPFS_TELEMETRY"] != "off" || last["TEST_DHT_STUB"] != "" {
		t.Fatalf("env: IPFS_PATH=%q IPFS_TELEMETRY=%q TEST_DHT_STUB=%q", last["IPFS_PATH"], last["IPFS_TELEMETRY"], last["TEST_DHT_STUB"])
	}
	if _, ok := last["GOLOG_LOG_LEVEL"]; ok {
		t.Fatal("GOLOG_LOG_LEVEL from the caller's environment reached Kubo")
	}
}
