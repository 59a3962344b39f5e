package node

import (
	"context"
	"strconv"
	"time"

	"github.com/ipfs/boxo/bitswap"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/dual"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics returns the node's Prometheus registry: what GET /metrics on the
// API listener serves. Every node has its own (nothing is registered in
// the process-wide default registry), so tests can run many nodes in one
// process.
//
// go-libp2p registers its collectors (resource manager, swarm, identify,
// event bus, ...) on it, but those collectors are package-level values in
// go-libp2p: with several nodes in one process each registry shows the sum
// over all of them. A daemon runs one node, so there they are its own.
func (n *Node) Metrics() prometheus.Gatherer { return n.metrics }

// metricsTimeout bounds the store reads one scrape makes.
const metricsTimeout = 10 * time.Second

// registerMetrics adds the node's own collectors to its registry: process
// and Go runtime, bitswap's counters, the DHT routing tables, mirror
// progress and the reach of bundles. go-libp2p's register themselves when
// the host is built, boxo's gateway's when the gateway is.
func (n *Node) registerMetrics() error {
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&nodeCollector{n: n},
	}
	for _, c := range cs {
		if err := n.metrics.Register(c); err != nil {
			return err
		}
	}
	return n.registerSpaceMetrics()
}

// Descriptions of the node's own metrics. The names are documented in
// docs/operations.md; keep the two in step.
var (
	descBitswapBlocksReceived = prometheus.NewDesc("commons_bitswap_blocks_received_total",
		"Blocks received over bitswap, duplicates included.", nil, nil)
	descBitswapDataReceived = prometheus.NewDesc("commons_bitswap_data_received_bytes_total",
		"Bytes of blocks received over bitswap, duplicates included.", nil, nil)
	descBitswapDupBlocks = prometheus.NewDesc("commons_bitswap_dup_blocks_received_total",
		"Blocks received over bitswap that the node already had.", nil, nil)
	descBitswapDupData = prometheus.NewDesc("commons_bitswap_dup_data_received_bytes_total",
		"Bytes of blocks received over bitswap that the node already had.", nil, nil)
	descBitswapMessages = prometheus.NewDesc("commons_bitswap_messages_received_total",
		"Bitswap messages received.", nil, nil)
	descBitswapBlocksSent = prometheus.NewDesc("commons_bitswap_blocks_sent_total",
		"Blocks sent to peers over bitswap.", nil, nil)
	descBitswapDataSent = prometheus.NewDesc("commons_bitswap_data_sent_bytes_total",
		"Bytes of blocks sent to peers over bitswap.", nil, nil)
	descBitswapWantlist = prometheus.NewDesc("commons_bitswap_wantlist_blocks",
		"Blocks the node wants from its peers now.", nil, nil)
	descBitswapPartners = prometheus.NewDesc("commons_bitswap_partners",
		"Peers bitswap keeps a ledger for.", nil, nil)

	descDHTPeers = prometheus.NewDesc("commons_dht_routing_table_peers",
		"Peers in the DHT routing table.", []string{"dht"}, nil)

	descMirrorWanted = prometheus.NewDesc("commons_mirror_versions_wanted",
		"Bundle versions of a followed library that its policy wants.", []string{"library"}, nil)
	descMirrorPinned = prometheus.NewDesc("commons_mirror_versions_pinned",
		"Wanted bundle versions of a followed library that are pinned and verified.", []string{"library"}, nil)
	descMirrorBytesDone = prometheus.NewDesc("commons_mirror_bytes_done",
		"Bytes (file sizes) of a followed library's wanted versions that are pinned.", []string{"library"}, nil)
	descMirrorBytesToGo = prometheus.NewDesc("commons_mirror_bytes_to_go",
		"Bytes (file sizes) of a followed library's wanted versions still to fetch.", []string{"library"}, nil)
	descMirrorState = prometheus.NewDesc("commons_mirror_state",
		"1 for the state a followed library's mirror is in (resolving, fetching, current, stalled).", []string{"library", "state"}, nil)

	reachLabels   = []string{"bundle", "publisher", "sequence"}
	descPageViews = prometheus.NewDesc("commons_bundle_page_views_total",
		"Views of a bundle version's page on this node's gateway.", reachLabels, nil)
	descDownloads = prometheus.NewDesc("commons_bundle_downloads_total",
		"Complete downloads of a bundle version from this node's gateway, by kind: zip, car, file.",
		append(reachLabels, "kind"), nil)
)

// nodeCollector reads the node's state at scrape time. Nothing is counted
// twice: bitswap and the mirror keep their own counters, the reach is read
// from the store and the counter in memory.
type nodeCollector struct{ n *Node }

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descBitswapBlocksReceived, descBitswapDataReceived, descBitswapDupBlocks, descBitswapDupData,
		descBitswapMessages, descBitswapBlocksSent, descBitswapDataSent, descBitswapWantlist, descBitswapPartners,
		descDHTPeers, descMirrorWanted, descMirrorPinned, descMirrorBytesDone, descMirrorBytesToGo, descMirrorState,
		descPageViews, descDownloads,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A part that cannot be read
// (the store closing) is left out of this scrape.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
	defer cancel()
	n := c.n
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	if bs, ok := n.Exchange.(*bitswap.Bitswap); ok {
		if st, err := bs.Stat(); err == nil {
			counter(descBitswapBlocksReceived, float64(st.BlocksReceived))
			counter(descBitswapDataReceived, float64(st.DataReceived))
			counter(descBitswapDupBlocks, float64(st.DupBlksReceived))
			counter(descBitswapDupData, float64(st.DupDataReceived))
			counter(descBitswapMessages, float64(st.MessagesReceived))
			counter(descBitswapBlocksSent, float64(st.BlocksSent))
			counter(descBitswapDataSent, float64(st.DataSent))
			gauge(descBitswapWantlist, float64(len(st.Wantlist)))
			gauge(descBitswapPartners, float64(len(st.Peers)))
		}
	}

	switch r := n.Routing.(type) {
	case *dht.IpfsDHT:
		gauge(descDHTPeers, float64(r.RoutingTable().Size()), "single")
	case *dual.DHT:
		gauge(descDHTPeers, float64(r.WAN.RoutingTable().Size()), "wan")
		gauge(descDHTPeers, float64(r.LAN.RoutingTable().Size()), "lan")
	}

	if n.mirror != nil {
		if st, err := n.MirrorStatus(ctx); err == nil {
			for _, l := range st.Libraries {
				gauge(descMirrorWanted, float64(l.Versions), l.Name)
				gauge(descMirrorPinned, float64(l.Pinned), l.Name)
				gauge(descMirrorBytesDone, float64(l.BytesDone), l.Name)
				gauge(descMirrorBytesToGo, float64(l.BytesToGo), l.Name)
				gauge(descMirrorState, 1, l.Name, l.State)
			}
		}
	}

	if rows, err := n.heldReach(ctx); err == nil {
		for _, row := range rows {
			labels := []string{row.rec.Name, row.rec.Publisher, strconv.FormatInt(row.rec.Sequence, 10)}
			counter(descPageViews, float64(row.counts.Views), labels...)
			counter(descDownloads, float64(row.counts.Zip), append(labels, "zip")...)
			counter(descDownloads, float64(row.counts.CAR), append(labels, "car")...)
			counter(descDownloads, float64(row.counts.File), append(labels, "file")...)
		}
	}
}
