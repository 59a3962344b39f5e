package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/pkg/bandwidth"
	"github.com/commons-p2p/commons/pkg/config"
)

// limitBandwidth returns h with the swarm's rate limits on every stream
// opened or accepted through it (package bandwidth), and registers the
// limiter's metrics on reg. With no limit set it returns h itself and
// registers nothing, so an unlimited node moves bytes as before.
//
// New calls it right after building (or being given) the host, before the
// DHT, bitswap, pubsub and the record protocol are built on it, so all of
// their transfers are limited. libp2p's own protocols (identify, ping, ...)
// were set up by the host itself and are not: a few kilobytes a
// connection. The limits are read once; a changed config applies at the
// next start.
func limitBandwidth(h host.Host, s config.Swarm, reg prometheus.Registerer) (host.Host, error) {
	var lims bandwidth.Limits
	for _, r := range []struct {
		key  string
		rate config.Rate
		to   *int64
	}{
		{"swarm.upload_rate", s.UploadRate, &lims.Upload},
		{"swarm.download_rate", s.DownloadRate, &lims.Download},
		{"swarm.peer_upload_rate", s.PeerUploadRate, &lims.PeerUpload},
		{"swarm.peer_download_rate", s.PeerDownloadRate, &lims.PeerDownload},
	} {
		v, err := r.rate.BytesPerSecond()
		if err != nil {
			return nil, fmt.Errorf("%s = %q: %w", r.key, r.rate, err)
		}
		*r.to = v
	}
	if lims.Unlimited() {
		return h, nil
	}
	lim, err := bandwidth.New(lims)
	if err != nil {
		return nil, err
	}
	if err := reg.Register(bandwidthCollector{lim}); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return bandwidth.WrapHost(h, lim), nil
}

// The bandwidth metrics; present only when a limit is set. Documented in
// docs/operations.md.
var (
	descBandwidthWait = prometheus.NewDesc("commons_bandwidth_wait_seconds_total",
		"Time streams spent waiting for the bandwidth limits, summed over streams, by direction (upload, download).",
		[]string{"direction"}, nil)
	descBandwidthLimit = prometheus.NewDesc("commons_bandwidth_limit_bytes_per_second",
		"The bandwidth limits in force (0: none), by direction and scope (all: all peers together; peer: each peer).",
		[]string{"direction", "scope"}, nil)
)

// bandwidthCollector reads a limiter's counters at scrape time.
type bandwidthCollector struct{ lim *bandwidth.Limiter }

// Describe implements prometheus.Collector.
func (c bandwidthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBandwidthWait
	ch <- descBandwidthLimit
}

// Collect implements prometheus.Collector.
func (c bandwidthCollector) Collect(ch chan<- prometheus.Metric) {
	st, l := c.lim.Stats(), c.lim.Limits()
	ch <- prometheus.MustNewConstMetric(descBandwidthWait, prometheus.CounterValue, st.UploadWait.Seconds(), "upload")
	ch <- prometheus.MustNewConstMetric(descBandwidthWait, prometheus.CounterValue, st.DownloadWait.Seconds(), "download")
	for _, v := range []struct {
		rate             int64
		direction, scope string
	}{
		{l.Upload, "upload", "all"}, {l.Download, "download", "all"},
		{l.PeerUpload, "upload", "peer"}, {l.PeerDownload, "download", "peer"},
	} {
		ch <- prometheus.MustNewConstMetric(descBandwidthLimit, prometheus.GaugeValue, float64(v.rate), v.direction, v.scope)
	}
}
