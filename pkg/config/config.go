// Package config defines a node's configuration file: every key, its
// default, how it is validated, and the named profiles that `commons init`
// starts from.
//
// The file is TOML (config.toml in the repo). Any key left out takes its
// default, so an old file keeps working when keys are added. docs/operations.md
// lists every key; keep it in step with Default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
)

// FileName is the name of the configuration file inside a repo.
const FileName = "config.toml"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole configuration of a node.
type Config struct {
	Addresses Addresses `toml:"addresses" comment:"Where the node listens. Multiaddrs; port 0 picks a free port."`
	Bootstrap Bootstrap `toml:"bootstrap" comment:"Peers dialled at start to join the DHT. None reachable is not an error."`
	Routing   Routing   `toml:"routing" comment:"Content routing: the Kademlia DHT (IPFS Amino protocol)."`
	Discovery Discovery `toml:"discovery" comment:"Finding peers without the DHT."`
	Swarm     Swarm     `toml:"swarm" comment:"Connection and bandwidth limits."`
	Provider  Provider  `toml:"provider" comment:"Announcing what this node holds to the DHT."`
	Fetch     Fetch     `toml:"fetch" comment:"Fetching content that is not stored locally."`
	Gateway   Gateway   `toml:"gateway" comment:"The read-only HTTP gateway."`
	Import    Import    `toml:"import" comment:"How folders are turned into UnixFS DAGs."`
	Datastore Datastore `toml:"datastore" comment:"The on-disk store."`
	Publish   Publish   `toml:"publish" comment:"Publishing design bundles."`
	Library   Library   `toml:"library" comment:"This node's library: its signed index of the bundles it publishes, under the IPNS name of the publisher key."`
	Mirror    Mirror    `toml:"mirror" comment:"Following (mirroring) other publishers' libraries."`
}

// Library configures how this node publishes its library.
type Library struct {
	Title string `toml:"title" comment:"The library's title, shown to followers."`
	// RecordLifetime is how long a signed IPNS record stays valid.
	RecordLifetime Duration `toml:"record_lifetime" comment:"How long each signed IPNS record of the library is valid (as Kubo's Ipns.RecordLifetime)."`
	// RecordTTL tells resolvers how long they may cache the record.
	RecordTTL Duration `toml:"record_ttl" comment:"How long resolvers and gateways may cache the library's record."`
	// Republish is how often the record is signed again and put into the
	// DHT, and how often a follower puts the records it holds.
	Republish Duration `toml:"republish" comment:"Put the library's record (and, on a follower, the records of followed libraries) into the DHT this often."`
}

// Mirror configures followers.
type Mirror struct {
	// Resolve is how often a follower looks a followed library up in the
	// DHT, the reliable path when pubsub did not deliver an update.
	Resolve Duration `toml:"resolve" comment:"Look followed libraries up in the DHT this often (pubsub usually delivers updates within seconds)."`
	// Concurrency is how many versions are fetched at once.
	Concurrency int `toml:"concurrency" comment:"How many bundle versions a mirror fetches at once."`
	// AllowNonOpen mirrors bundles whose licences are not open source.
	AllowNonOpen bool `toml:"allow_non_open" comment:"Mirror bundles whose licences are not open source (private networks only); by default they are skipped and reported."`
	// PubSub turns on GossipSub for library updates.
	PubSub bool `toml:"pubsub" comment:"Receive and relay library updates over GossipSub (topic /record/<base64url of /ipns/<key>>, as Kubo's IPNS over pubsub)."`
}

// Publish configures how this node signs and checks the bundles it publishes.
type Publish struct {
	// KeyFile is a libp2p-marshalled ed25519 private key, like the repo's
	// identity file; a relative path is taken from the repo.
	KeyFile string `toml:"key_file" comment:"The publisher key that signs bundles: a file holding a libp2p ed25519 private key (relative paths are in the repo). Empty: the node's identity key."`
	// AllowNonOpen lets bundles with licences that are not open source
	// be published; they are marked non-open wherever they appear.
	AllowNonOpen bool `toml:"allow_non_open" comment:"Allow bundles whose licences are not open source (private networks only); they are marked non-open everywhere."`
}

// Addresses says where the node listens.
type Addresses struct {
	Swarm    []string `toml:"swarm" comment:"libp2p listen addresses (TCP and QUIC)."`
	Announce []string `toml:"announce" comment:"If set, the only addresses announced to peers (e.g. a public address behind NAT)."`
	API      string   `toml:"api" comment:"The local HTTP API used by the commons CLI; every request needs the repo's api-token. Loopback only unless api_remote is set. Empty: no API."`
	// APIRemote allows the API on an address other than loopback.
	APIRemote bool   `toml:"api_remote" comment:"Allow addresses.api on a non-loopback address. Every request still needs the repo's api-token, and the API is plain HTTP: only on a network you trust, or behind TLS."`
	Gateway   string `toml:"gateway" comment:"The HTTP gateway: /ipfs/, /ipns/ and the home page. Empty: no gateway."`
}

// Bootstrap lists the peers dialled at start.
type Bootstrap struct {
	Peers []string `toml:"peers" comment:"Multiaddrs ending in /p2p/<peer id>."`
}

// Routing configures the DHT.
type Routing struct {
	DHT  string `toml:"dht" comment:"dual: a WAN DHT on the public IPFS network plus a LAN DHT (as Kubo). single: one DHT with no address filtering, for closed networks and labs. none: no DHT (connect to peers by hand or mDNS)."`
	Mode string `toml:"mode" comment:"auto: DHT server once the node is publicly reachable, client before. server: always answer DHT queries. client: never."`
}

// Discovery configures peer discovery other than the DHT.
type Discovery struct {
	MDNS bool `toml:"mdns" comment:"Find peers on the same LAN with multicast DNS (works with no internet)."`
}

// Swarm configures connection and bandwidth limits.
type Swarm struct {
	ConnLow   int      `toml:"conn_low" comment:"The connection manager trims down to this many connections..."`
	ConnHigh  int      `toml:"conn_high" comment:"...when there are more than this many."`
	ConnGrace Duration `toml:"conn_grace" comment:"New connections are not trimmed for this long."`
	// MaxMemory is the resource manager's memory limit in bytes. 0 scales
	// it to the machine (go-libp2p's autoscaled defaults).
	MaxMemory int64 `toml:"max_memory" comment:"Resource manager memory limit in bytes for all of libp2p; 0 scales to the machine."`
	MaxFDs    int   `toml:"max_fds" comment:"Resource manager file-descriptor limit; 0 scales to the process limit."`
	// The rates limit what every transfer over libp2p (bitswap, the
	// DHT, pubsub, records) sends and receives, for all peers together
	// and for each peer; see package bandwidth. They are read at start.
	UploadRate       Rate `toml:"upload_rate" comment:"Most the node sends to all peers together, per second: 256kbit, 2Mbit, 64KiB, 1MB, ...; 0: no limit. Read at start."`
	DownloadRate     Rate `toml:"download_rate" comment:"Most the node receives from all peers together, per second; 0: no limit."`
	PeerUploadRate   Rate `toml:"peer_upload_rate" comment:"Most the node sends to any one peer, per second; 0: no limit."`
	PeerDownloadRate Rate `toml:"peer_download_rate" comment:"Most the node receives from any one peer, per second; 0: no limit."`
	// BanDuration is how long a peer caught misbehaving (a malformed or
	// oversized message, a block nobody asked it for, a block that does
	// not verify) is refused after it is disconnected.
	BanDuration Duration `toml:"ban_duration" comment:"A peer caught misbehaving (malformed or oversized messages, blocks nobody asked for or that do not verify) is disconnected and refused for this long; 0: disconnected only."`
}

// Provider configures announcements to the DHT.
type Provider struct {
	Strategy string   `toml:"strategy" comment:"roots: announce the root of every pin (cheap; peers find the rest over bitswap). all: announce every pinned block."`
	Interval Duration `toml:"interval" comment:"Re-announce everything this often (DHT records expire after 48h)."`
}

// Fetch configures retrieval from the network.
type Fetch struct {
	Timeout Duration `toml:"timeout" comment:"Give up a fetch when no new data has arrived for this long (a CID nobody has fails after this)."`
	// Bulk fetches whole DAGs as CAR streams from peers' trustless
	// gateways over libp2p; bitswap fetches whatever they do not serve.
	Bulk bool `toml:"bulk" comment:"Fetch what is missing of a DAG as CAR streams from peers that serve the trustless gateway over libp2p (/ipfs/gateway), small and important files first; bitswap fetches the rest. Off: bitswap only."`
}

// Gateway configures the HTTP gateway.
type Gateway struct {
	RetrievalTimeout      Duration `toml:"retrieval_timeout" comment:"A request that waits this long for a missing block gets 504."`
	MaxConcurrentRequests int      `toml:"max_concurrent_requests" comment:"Requests beyond this many at once get 429."`
	Hostnames             []string `toml:"hostnames" comment:"Hosts served as subdomain gateways (<cid>.ipfs.<host>)."`
	// OverLibp2p serves the verifiable part of the gateway to peers.
	OverLibp2p bool `toml:"over_libp2p" comment:"Serve raw blocks and CARs of stored content to peers over libp2p HTTP (/ipfs/gateway, as Kubo's Experimental.GatewayOverLibp2p): the bulk path other nodes fetch from. Never fetches for a peer."`
}

// Import configures how folders become DAGs. The defaults give the same
// CIDs as `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash`.
type Import struct {
	Chunker    string `toml:"chunker" comment:"buzhash (content-defined: an edit changes only nearby blocks), size-N, or rabin-min-avg-max."`
	CIDVersion int    `toml:"cid_version" comment:"1 (CIDv1; the only version supported)."`
	RawLeaves  bool   `toml:"raw_leaves" comment:"Store file data as raw blocks."`
}

// Datastore configures the on-disk store.
type Datastore struct {
	CacheSize int64 `toml:"cache_size" comment:"Block cache in bytes; 0 uses the store's default."`
	// MinFree is the space the store leaves free on its disk, so that
	// the database always has room for its own bookkeeping (flushes,
	// compactions, its log): below it no new blocks are taken.
	MinFree Size `toml:"min_free" comment:"Keep at least this much free on the repo's disk: below it the store takes no new blocks, and publish, import, pin add and mirroring fail saying the disk is full (reads, the gateway, pin rm and gc go on). 0: no reserve."`
	// Ballast is a file the store holds and deletes when the disk runs
	// out all the same (another program filled it), so that the database
	// can finish the writes it has started instead of stopping the node.
	Ballast Size `toml:"ballast" comment:"An emergency reserve: a file of this size the store keeps beside its data and deletes if the disk still runs out (another program filled it), so the database can finish its own writes; it is made again once there is room. 0: none."`
}

// DefaultBootstrap is the public IPFS bootstrap list, so a new node joins the
// same DHT as Kubo nodes and public pinning services.
var DefaultBootstrap = []string{
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
	"/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
	"/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
	"/ip4/104.131.131.82/udp/4001/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
}

// Default returns the configuration a plain `commons init` writes.
func Default() Config {
	return Config{
		Addresses: Addresses{
			Swarm: []string{
				"/ip4/0.0.0.0/tcp/4101",
				"/ip4/0.0.0.0/udp/4101/quic-v1",
				"/ip6/::/tcp/4101",
				"/ip6/::/udp/4101/quic-v1",
			},
			Announce: []string{},
			API:      "/ip4/127.0.0.1/tcp/5101",
			Gateway:  "/ip4/127.0.0.1/tcp/8080",
		},
		Bootstrap: Bootstrap{Peers: append([]string(nil), DefaultBootstrap...)},
		Routing:   Routing{DHT: "dual", Mode: "auto"},
		Discovery: Discovery{MDNS: true},
		Swarm: Swarm{
			ConnLow:     100,
			ConnHigh:    400,
			ConnGrace:   Duration(20 * time.Second),
			BanDuration: Duration(10 * time.Minute),

			UploadRate: "0", DownloadRate: "0", PeerUploadRate: "0", PeerDownloadRate: "0",
		},
		Provider: Provider{Strategy: "roots", Interval: Duration(22 * time.Hour)},
		Fetch:    Fetch{Timeout: Duration(2 * time.Minute), Bulk: true},
		Gateway: Gateway{
			RetrievalTimeout:      Duration(30 * time.Second),
			MaxConcurrentRequests: 1024,
			Hostnames:             []string{"localhost"},
			OverLibp2p:            true,
		},
		Import:    Import{Chunker: "buzhash", CIDVersion: 1, RawLeaves: true},
		Datastore: Datastore{MinFree: "256MiB", Ballast: "64MiB"},
		Library: Library{
			RecordLifetime: Duration(48 * time.Hour),
			RecordTTL:      Duration(time.Minute),
			Republish:      Duration(4 * time.Hour),
		},
		Mirror: Mirror{Resolve: Duration(10 * time.Minute), Concurrency: 2, PubSub: true},
	}
}

// Profiles are the named starting points for `commons init --profile`.
var profiles = map[string]func(*Config){
	"default": func(*Config) {},
	// test: several nodes on one machine for tests and scripts. Loopback
	// only, every port 0 (the daemon writes the bound addresses into the
	// repo), no bootstrap peers, no mDNS, a DHT that accepts loopback
	// addresses and always serves, short timeouts.
	"test": func(c *Config) {
		c.Addresses.Swarm = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
		c.Addresses.API = "/ip4/127.0.0.1/tcp/0"
		c.Addresses.Gateway = "/ip4/127.0.0.1/tcp/0"
		c.Bootstrap.Peers = []string{}
		c.Discovery.MDNS = false
		c.Routing = Routing{DHT: "single", Mode: "server"}
		c.Swarm.ConnLow, c.Swarm.ConnHigh = 20, 50
		c.Fetch.Timeout = Duration(20 * time.Second)
		c.Gateway.RetrievalTimeout = Duration(10 * time.Second)
		c.Mirror.Resolve = Duration(5 * time.Second)
	},
	// lan: a village or workshop network with no internet: no public
	// bootstrap, mDNS on, one DHT over the LAN's private addresses.
	"lan": func(c *Config) {
		c.Bootstrap.Peers = []string{}
		c.Discovery.MDNS = true
		c.Routing = Routing{DHT: "single", Mode: "server"}
	},
}

// ProfileNames lists the known profiles in a stable order.
func ProfileNames() []string { return []string{"default", "lan", "test"} }

// FromProfile returns the default configuration with the named profile
// applied.
func FromProfile(name string) (Config, error) {
	apply, ok := profiles[name]
	if !ok {
		return Config{}, fmt.Errorf("%w: unknown profile %q (known: %s)", ErrInvalid, name, strings.Join(ProfileNames(), ", "))
	}
	c := Default()
	apply(&c)
	return c, nil
}

// Validate checks values that have a fixed set of choices or ranges. It
// does not parse multiaddrs; the node does that and names the bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Routing.DHT {
	case "dual", "single", "none":
	default:
		bad("routing.dht = %q: want dual, single or none", c.Routing.DHT)
	}
	switch c.Routing.Mode {
	case "auto", "server", "client":
	default:
		bad("routing.mode = %q: want auto, server or client", c.Routing.Mode)
	}
	switch c.Provider.Strategy {
	case "roots", "all":
	default:
		bad("provider.strategy = %q: want roots or all", c.Provider.Strategy)
	}
	if c.Provider.Interval.D() < time.Minute {
		bad("provider.interval = %s: want at least 1m", c.Provider.Interval)
	}
	if c.Fetch.Timeout.D() <= 0 {
		bad("fetch.timeout = %s: want a positive duration", c.Fetch.Timeout)
	}
	if c.Gateway.RetrievalTimeout.D() <= 0 {
		bad("gateway.retrieval_timeout = %s: want a positive duration", c.Gateway.RetrievalTimeout)
	}
	if c.Gateway.MaxConcurrentRequests < 1 {
		bad("gateway.max_concurrent_requests = %d: want at least 1", c.Gateway.MaxConcurrentRequests)
	}
	if c.Swarm.ConnLow < 0 || c.Swarm.ConnHigh < c.Swarm.ConnLow {
		bad("swarm.conn_low = %d, conn_high = %d: want 0 <= conn_low <= conn_high", c.Swarm.ConnLow, c.Swarm.ConnHigh)
	}
	if c.Swarm.BanDuration.D() < 0 {
		bad("swarm.ban_duration = %s: want 0 or more", c.Swarm.BanDuration)
	}
	errs = append(errs, c.Swarm.rateErrors()...)
	errs = append(errs, c.Datastore.sizeErrors()...)
	if c.Import.CIDVersion != 1 {
		bad("import.cid_version = %d: only 1 is supported (CIDv0 cannot express raw leaves)", c.Import.CIDVersion)
	}
	if c.Library.RecordLifetime.D() < time.Hour {
		bad("library.record_lifetime = %s: want at least 1h", c.Library.RecordLifetime)
	}
	if c.Library.RecordTTL.D() < 0 {
		bad("library.record_ttl = %s: want 0 or more", c.Library.RecordTTL)
	}
	if r := c.Library.Republish.D(); r <= 0 || r >= c.Library.RecordLifetime.D() {
		bad("library.republish = %s: want more than 0 and less than library.record_lifetime (%s)", c.Library.Republish, c.Library.RecordLifetime)
	}
	if c.Mirror.Resolve.D() <= 0 {
		bad("mirror.resolve = %s: want a positive duration", c.Mirror.Resolve)
	}
	if c.Mirror.Concurrency < 1 || c.Mirror.Concurrency > 64 {
		bad("mirror.concurrency = %d: want 1 to 64", c.Mirror.Concurrency)
	}
	if c.Import.Chunker == "" {
		bad("import.chunker is empty: want buzhash, size-N or rabin-min-avg-max")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}

// Parse decodes a configuration file. Keys left out keep their defaults;
// unknown keys are an error, so a typo does not silently do nothing.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return Config{}, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimSpace(sm.String()))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			where := fmt.Sprintf("line %d column %d", row, col)
			if k := de.Key(); len(k) > 0 {
				where += " (" + strings.Join(k, ".") + ")"
			}
			return Config{}, fmt.Errorf("%w: %s: %s", ErrInvalid, where, de.Error())
		}
		return Config{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Load reads and parses the configuration file at path.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config %s: %w", path, err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Marshal encodes c as TOML with a comment above every key.
func (c Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# commons node configuration. Every key has a default; a key left out\n# takes it. See docs/operations.md for the full reference.\n\n")
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

// Duration is a time.Duration written as text ("30s", "22h") in the file.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a number with a unit, such as 30s, 5m or 22h", b)
	}
	*d = Duration(v)
	return nil
}
