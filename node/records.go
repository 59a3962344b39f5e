package node

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipns"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"

	"github.com/commons-p2p/commons/pkg/library"
)

// RecordProtocol answers "which is the newest record you hold of library
// name?": the asker writes the name (k51…) and a newline, the answer is
// the marshalled IPNS record, or nothing. It lets a follower catch up from
// any connected peer at once, without waiting for the DHT or for the next
// pubsub message (which GossipSub does not replay to late joiners).
const RecordProtocol = protocol.ID("/commons/library/record/1.0.0")

// recordTopic is the pubsub topic of a name's records: Kubo's IPNS over
// pubsub topic, so Kubo nodes with --enable-namesys-pubsub relay them.
func recordTopic(name ipns.Name) string {
	return "/record/" + base64.RawURLEncoding.EncodeToString(name.RoutingKey())
}

// records spreads library records: GossipSub topics for the fast path,
// the direct protocol for catching up, and the DHT for the reliable path.
type records struct {
	n  *Node
	ps *pubsub.PubSub // nil when pubsub is off

	mu     sync.Mutex
	topics map[string]*joinedTopic
}

type joinedTopic struct {
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	cancel context.CancelFunc
}

func newRecords(ctx context.Context, n *Node) (*records, error) {
	r := &records{n: n, topics: map[string]*joinedTopic{}}
	n.Host.SetStreamHandler(RecordProtocol, r.serve)
	if !n.settings.Mirror.PubSub {
		return r, nil
	}
	opts := []pubsub.Option{pubsub.WithPeerExchange(true)}
	if n.Routing != nil {
		opts = append(opts, pubsub.WithDiscovery(drouting.NewRoutingDiscovery(n.Routing)))
	}
	ps, err := pubsub.NewGossipSub(ctx, n.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("pubsub: %w", err)
	}
	r.ps = ps
	return r, nil
}

// serve answers RecordProtocol.
func (r *records) serve(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(s, 128)).ReadString('\n')
	if err != nil {
		_ = s.Reset()
		return
	}
	name, err := library.ParseName(strings.TrimSpace(line))
	if err != nil {
		_ = s.Reset()
		return
	}
	if rec, ok := r.n.libraryRecord(context.Background(), name); ok {
		_, _ = s.Write(rec.Data)
	}
}

// ask fetches p's newest record of name (nil if it holds none).
func (r *records) ask(ctx context.Context, p peer.ID, name ipns.Name) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := r.n.Host.NewStream(network.WithAllowLimitedConn(ctx, "library record"), p, RecordProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if _, err := io.WriteString(s, name.String()+"\n"); err != nil {
		_ = s.Reset()
		return nil, err
	}
	_ = s.CloseWrite()
	data, err := io.ReadAll(io.LimitReader(s, int64(ipns.MaxRecordSize)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > ipns.MaxRecordSize {
		return nil, fmt.Errorf("peer %s sent a record over %d bytes", p, ipns.MaxRecordSize)
	}
	return data, nil
}

// askPeers asks the connected peers most likely to hold name's record
// (the name's own peer, and the peers subscribed to its topic) and returns
// every record they sent.
func (r *records) askPeers(ctx context.Context, name ipns.Name) [][]byte {
	cands := map[peer.ID]bool{}
	if pid := name.Peer(); r.n.Host.Network().Connectedness(pid) == network.Connected {
		cands[pid] = true
	}
	if r.ps != nil {
		for _, p := range r.ps.ListPeers(recordTopic(name)) {
			cands[p] = true
		}
	}
	var mu sync.Mutex
	var out [][]byte
	var wg sync.WaitGroup
	for p := range cands {
		if p == r.n.Host.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			data, err := r.ask(ctx, p, name)
			if err == nil && len(data) > 0 {
				mu.Lock()
				out = append(out, data)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// join subscribes to name's topic; records that arrive go to deliver.
// Joining twice is a no-op.
func (r *records) join(ctx context.Context, name ipns.Name, deliver func(ctx context.Context, name ipns.Name, data []byte, from peer.ID)) error {
	if r.ps == nil {
		return nil
	}
	key := name.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.topics[key]; ok {
		return nil
	}
	tname := recordTopic(name)
	self := r.n.Host.ID()
	err := r.ps.RegisterTopicValidator(tname, func(ctx context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		rec, err := library.CheckRecord(name, msg.Data)
		if err != nil {
			return pubsub.ValidationReject // a forged or damaged record: penalise the sender
		}
		if from == self {
			return pubsub.ValidationAccept
		}
		if held, ok := r.n.libraryRecord(ctx, name); ok && held.Sequence >= rec.Sequence {
			return pubsub.ValidationIgnore // old news: do not relay it
		}
		return pubsub.ValidationAccept
	})
	if err != nil {
		return fmt.Errorf("pubsub %s: %w", key, err)
	}
	t, err := r.ps.Join(tname)
	if err != nil {
		_ = r.ps.UnregisterTopicValidator(tname)
		return fmt.Errorf("pubsub %s: %w", key, err)
	}
	sub, err := t.Subscribe()
	if err != nil {
		_ = t.Close()
		_ = r.ps.UnregisterTopicValidator(tname)
		return fmt.Errorf("pubsub %s: %w", key, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	r.topics[key] = &joinedTopic{topic: t, sub: sub, cancel: cancel}
	go func() {
		for {
			msg, err := sub.Next(sctx)
			if err != nil {
				return
			}
			if msg.ReceivedFrom == self {
				continue
			}
			deliver(sctx, name, msg.Data, msg.ReceivedFrom)
		}
	}()
	return nil
}

// leave unsubscribes from name's topic.
func (r *records) leave(name ipns.Name) {
	if r.ps == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	jt, ok := r.topics[name.String()]
	if !ok {
		return
	}
	delete(r.topics, name.String())
	jt.cancel()
	jt.sub.Cancel()
	_ = jt.topic.Close()
	_ = r.ps.UnregisterTopicValidator(recordTopic(name))
}

// publish sends a record on its name's topic (joined by then).
func (r *records) publish(ctx context.Context, name ipns.Name, data []byte) error {
	if r.ps == nil {
		return nil
	}
	r.mu.Lock()
	jt, ok := r.topics[name.String()]
	r.mu.Unlock()
	if !ok {
		return errors.New("topic not joined")
	}
	return jt.topic.Publish(ctx, data)
}

// put stores a record in the DHT.
func (r *records) put(ctx context.Context, name ipns.Name, data []byte) error {
	if r.n.Routing == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return r.n.Routing.PutValue(ctx, string(name.RoutingKey()), data)
}

// get looks a record up in the DHT.
func (r *records) get(ctx context.Context, name ipns.Name) ([]byte, error) {
	if r.n.Routing == nil {
		return nil, errors.New("no DHT")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return r.n.Routing.GetValue(ctx, string(name.RoutingKey()))
}
