// Package linklab is a poor network link for tests: two Linux network
// namespaces joined by a link that lives in the test process. Each
// namespace holds one TUN device; goroutines of the calling process read
// the packets one side's kernel sends and write them into the other's,
// applying a one-way delay (with optional jitter), random loss from a
// seeded generator, a serialisation rate with a tail-drop queue, and an
// up/down switch that drops everything, as a cut cable does. Counters per
// direction say what was offered, what went onto the wire and what was
// delivered or dropped, and why.
//
// Real kernels run TCP and QUIC over it, so daemons started inside the
// namespaces (`ip netns exec`) see a village link: slow, lossy, far and
// sometimes gone. The Linux kernels of this project's machines have no
// netem qdisc, so nothing else can add delay (docs/testing.md).
//
// It needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN), /dev/net/tun and
// iproute2's ip command. On other systems the package is empty.
package linklab
