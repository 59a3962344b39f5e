package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestProfilesAreValid(t *testing.T) {
	for _, name := range ProfileNames() {
		c, err := FromProfile(name)
		if err != nil {
			t.Fatalf("profile %s: %v", name, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("profile %s does not validate: %v", name, err)
		}
	}
	if _, err := FromProfile("nope"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown profile: %v; want ErrInvalid", err)
	}
}

func TestTestProfileIsLoopbackWithPortZero(t *testing.T) {
	c, _ := FromProfile("test")
	for _, a := range append(append([]string{}, c.Addresses.Swarm...), c.Addresses.API, c.Addresses.Gateway) {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/") || !(strings.Contains(a, "/tcp/0") || strings.Contains(a, "/udp/0")) {
			t.Errorf("test profile address %q is not loopback with port 0", a)
		}
	}
	if len(c.Bootstrap.Peers) != 0 || c.Discovery.MDNS {
		t.Errorf("test profile must have no bootstrap peers and no mDNS: %+v %+v", c.Bootstrap, c.Discovery)
	}
}

func TestMarshalParseRoundTrip(t *testing.T) {
	for _, name := range ProfileNames() {
		c, _ := FromProfile(name)
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("profile %s: parse of marshalled config: %v\n%s", name, err, b)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("profile %s: round trip changed the config:\n got %+v\nwant %+v", name, got, c)
		}
	}
}

func TestMissingKeysTakeDefaults(t *testing.T) {
	c, err := Parse([]byte("[fetch]\ntimeout = \"5s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Fetch.Timeout = Duration(5 * time.Second)
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestParseRefusals(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"unknown key", "[fetch]\ntimout = \"5s\"\n", "timout"},
		{"unknown table", "[fetchh]\n", "fetchh"},
		{"bad duration", "[fetch]\ntimeout = \"soon\"\n", "30s"},
		{"bad dht", "[routing]\ndht = \"both\"\n", "routing.dht"},
		{"bad mode", "[routing]\nmode = \"fast\"\n", "routing.mode"},
		{"bad strategy", "[provider]\nstrategy = \"some\"\n", "provider.strategy"},
		{"short interval", "[provider]\ninterval = \"1s\"\n", "provider.interval"},
		{"zero fetch timeout", "[fetch]\ntimeout = \"0s\"\n", "fetch.timeout"},
		{"conn limits", "[swarm]\nconn_low = 10\nconn_high = 5\n", "conn_low"},
		{"bad rate", "[swarm]\nupload_rate = \"fast\"\n", "swarm.upload_rate"},
		{"rate without unit", "[swarm]\npeer_download_rate = \"1000\"\n", "swarm.peer_download_rate"},
		{"rate below 16kbit", "[swarm]\npeer_upload_rate = \"8kbit\"\n", "at least 16kbit"},
		{"rate as a number", "[swarm]\ndownload_rate = 1000\n", "download_rate"},
		{"cid version", "[import]\ncid_version = 2\n", "cid_version"},
		{"empty chunker", "[import]\nchunker = \"\"\n", "chunker"},
		{"not toml", "this is = = not toml", "line 1"},
		{"wrong type", "[gateway]\nmax_concurrent_requests = \"many\"\n", "max_concurrent_requests"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %v; want ErrInvalid", tc.in, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Parse(%q) error %q does not mention %q", tc.in, err, tc.wantMsg)
			}
		})
	}
}

func TestMarshalIsCommented(t *testing.T) {
	c := Default()
	b, _ := c.Marshal()
	for _, key := range []string{"retrieval_timeout", "strategy", "mdns", "chunker", "upload_rate", "peer_download_rate"} {
		i := strings.Index(string(b), key+" =")
		if i < 0 {
			t.Fatalf("marshalled config lacks %s", key)
		}
		before := string(b[:i])
		lines := strings.Split(strings.TrimRight(before, " \t"), "\n")
		if len(lines) < 2 || !strings.HasPrefix(strings.TrimSpace(lines[len(lines)-2]), "#") {
			t.Errorf("key %s has no comment above it", key)
		}
	}
}

// FuzzParse: any bytes give a valid config or an ErrInvalid error, never a
// panic, and a parsed config always validates.
func FuzzParse(f *testing.F) {
	for _, name := range ProfileNames() {
		c, _ := FromProfile(name)
		b, _ := c.Marshal()
		f.Add(b)
	}
	f.Add([]byte("[fetch]\ntimeout = \"5s\"\n"))
	f.Add([]byte("[swarm]\nupload_rate = \"2Mbit/s\"\npeer_download_rate = \"1.5 MiB\"\n"))
	f.Add([]byte("[[x]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
	})
}
