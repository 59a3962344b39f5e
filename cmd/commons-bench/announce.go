package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/commons-p2p/commons/node/nodetest/kubopeer"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// announceScenario measures how long each implementation takes to announce
// N new CIDs to a DHT of announcePeers in-process peers (announcedht.go):
// from the start of `add` of N small files against a running daemon (each
// file one raw block, the same CIDs on both) until the peers hold a
// provider record from that daemon for every one of the N files. Peers and
// repos are fresh for every run.
func (b *bench) announceScenario(ctx context.Context) error {
	for _, n := range b.opt.announceCIDs {
		folder, keys, err := writeAnnounceFolder(filepath.Join(b.work, fmt.Sprintf("announce-%d", n)), n, b.opt.seed)
		if err != nil {
			return err
		}
		for r := range b.opt.runs {
			for _, im := range b.order(r) {
				if err := b.announceRun(ctx, im, n, r, folder, keys); err != nil {
					return fmt.Errorf("%s, %d CIDs: %w", im.Name(), n, err)
				}
			}
		}
		if !b.opt.keep {
			_ = os.RemoveAll(folder)
		}
	}
	return nil
}

// announceRun is one measurement of im announcing the n files of folder.
func (b *bench) announceRun(ctx context.Context, im impl, n, r int, folder string, keys []mh.Multihash) error {
	peers, err := startAnnouncePeers(ctx, announcePeers)
	if err != nil {
		return err
	}
	defer peers.close()

	dir := b.newRepoDir(im, fmt.Sprintf("announce%d", n))
	defer b.removeRepo(dir)
	if err := im.Init(ctx, dir); err != nil {
		return err
	}
	if err := configureAnnounce(im, dir, peers.addrs()); err != nil {
		return err
	}
	d, err := im.Start(ctx, b.sup, fmt.Sprintf("%s-announce", im.Name()), dir)
	if err != nil {
		return err
	}
	defer b.sup.stop(d)
	id, err := swarmPeerID(d.swarm)
	if err != nil {
		return err
	}
	// The daemon dials its bootstrap peers (the whole DHT) and fills its
	// routing table from them; announcing into a half-known DHT would
	// measure the bootstrap, not the announcing.
	connected := peers.waitConnected(ctx, id, 30*time.Second)
	if connected < announcePeers {
		b.rep.note("announce %d, %s run %d: only %d of %d DHT peers connected before the add", n, im.Name(), r+1, connected, announcePeers)
	}

	t := peers.track(id, keys)
	start := time.Now()
	if _, res, err := im.Add(ctx, dir, folder); err != nil {
		return err
	} else {
		b.rep.metric(fmt.Sprintf("announce_%d_add_secs", n), fmt.Sprintf("announce %s: the add itself", countLabel(n)), "s", "lower").add(im.Name(), res.Elapsed.Seconds())
	}
	one, all := peers.wait(ctx, t, start, b.opt.announceTimeout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	label := countLabel(n)
	if one.done {
		b.rep.metric(fmt.Sprintf("announce_%d_secs", n), fmt.Sprintf("announce %s: all on ≥1 peer", label), "s", "lower").add(im.Name(), one.elapsed.Seconds())
		b.rep.metric(fmt.Sprintf("announce_%d_cids_per_s", n), fmt.Sprintf("announce %s: CIDs/s", label), "CID/s", "higher").add(im.Name(), float64(n)/one.elapsed.Seconds())
	} else {
		b.rep.note("announce %s, %s run %d: not finished in %s: %d of %d CIDs on at least one peer", label, im.Name(), r+1, b.opt.announceTimeout, one.count, n)
	}
	if all.done {
		b.rep.metric(fmt.Sprintf("announce_%d_all_secs", n), fmt.Sprintf("announce %s: all on all %d peers", label, announcePeers), "s", "lower").add(im.Name(), all.elapsed.Seconds())
	} else {
		b.rep.note("announce %s, %s run %d: %d of %d CIDs reached all %d peers in %s", label, im.Name(), r+1, all.count, n, announcePeers, b.opt.announceTimeout)
	}
	b.logf("announce %s, %s run %d: ≥1 peer %s (%d/%d), all peers %s (%d/%d); %d records",
		label, im.Name(), r+1, one, one.count, n, all, all.count, n, t.records())
	return nil
}

// countLabel writes n as "10k CIDs" or "200 CIDs".
func countLabel(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k CIDs"
	}
	return strconv.Itoa(n) + " CIDs"
}

// configureAnnounce points the repo at dir at the in-process DHT and no
// other peer, and makes it announce every block, not only roots.
func configureAnnounce(im impl, dir string, boot []string) error {
	switch im.Name() {
	case nameCommons:
		path := filepath.Join(dir, config.FileName)
		c, err := config.Load(path)
		if err != nil {
			return err
		}
		// The test profile's single DHT speaks /ipfs/kad/1.0.0 with no
		// address filter, as the peers do; the dual DHT would keep these
		// loopback peers out of its WAN half.
		c.Bootstrap.Peers = boot
		c.Provider.Strategy = "all"
		out, err := c.Marshal()
		if err != nil {
			return err
		}
		return os.WriteFile(path, out, 0o600)
	case nameKubo:
		// Kubo runs its dual DHT; with LoopbackAddressesOnLanDHT (set by
		// kubopeer) its LAN half keeps these peers, which speak the LAN
		// protocol too. "all" is Kubo's default strategy; it is set so a
		// change of default cannot change what is measured.
		return kubopeer.Configure(dir, map[string]any{"Bootstrap": boot, "Provide.Strategy": "all"})
	}
	return fmt.Errorf("announce: no configuration for %s", im.Name())
}

// swarmPeerID takes the peer ID out of a multiaddr ending in /p2p/ID.
func swarmPeerID(addr string) (peer.ID, error) {
	i := strings.LastIndex(addr, "/p2p/")
	if i < 0 {
		return "", fmt.Errorf("no /p2p/ in %q", addr)
	}
	return peer.Decode(addr[i+len("/p2p/"):])
}

// writeAnnounceFolder writes n small files (each under one chunk, so each
// is one raw block, the same CID on both implementations) in folders of
// 1000, so no directory is big enough to become a HAMT shard, and returns
// the multihashes of the files.
func writeAnnounceFolder(dir string, n int, seed uint64) (string, []mh.Multihash, error) {
	keys := make([]mh.Multihash, 0, n)
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("part-%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return "", nil, fmt.Errorf("announce folder: %w", err)
			}
		}
		body := fmt.Appendf(nil, "commons-bench announce, seed %d, file %d of %d\n", seed, i, n)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("note-%06d.txt", i)), body, 0o644); err != nil {
			return "", nil, fmt.Errorf("announce folder: %w", err)
		}
		h, err := mh.Sum(body, mh.SHA2_256, -1)
		if err != nil {
			return "", nil, err
		}
		keys = append(keys, cid.NewCidV1(cid.Raw, h).Hash())
	}
	return dir, keys, nil
}

// progress is how far an announcement got by some condition.
type progress struct {
	done    bool
	elapsed time.Duration // until the last CID met the condition
	count   int           // CIDs that met it
}

func (p progress) String() string {
	if !p.done {
		return "not finished"
	}
	return p.elapsed.Round(time.Millisecond).String()
}

// parseCounts parses "10000,100000" (1 to 10 million each).
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 10_000_000 {
			return nil, fmt.Errorf("%q: want a count from 1 to 10000000", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no counts in %q", s)
	}
	return out, nil
}
