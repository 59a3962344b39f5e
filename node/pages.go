package node

import (
	"context"
	"fmt"
	"net/http"

	"github.com/ipfs/boxo/ipld/merkledag"

	"github.com/commons-p2p/commons/gateway"
	"github.com/commons-p2p/commons/gateway/pages"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/search"
)

// The node is what the design pages read, and it vets what they zip.
var (
	_ pages.Designs        = (*Node)(nil)
	_ pages.ArchiveChecker = (*Node)(nil)
)

// CheckArchive implements pages.ArchiveChecker with folder.Check, reading
// (and fetching, if need be) the directories and file nodes under p.
func (n *Node) CheckArchive(ctx context.Context, p string, lim folder.Limits) (folder.Summary, error) {
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	c, err := n.resolve(ctx, p)
	if err != nil {
		return folder.Summary{}, wd.explain(fmt.Errorf("check %s: %w", p, err))
	}
	sum, err := folder.Check(ctx, &watchedNodes{ng: merkledag.NewSession(ctx, n.DAG), wd: wd}, c, lim)
	if err != nil {
		return sum, wd.explain(fmt.Errorf("check %s: %w", p, err))
	}
	return sum, nil
}

// buildPages opens the full-text index (in Config.SearchDir, or in memory)
// and builds the design pages the gateway serves beside the IPFS paths.
func (n *Node) buildPages(s config.Config) (http.Handler, error) {
	idx, err := search.Open(n.searchDir)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.search = idx
	n.closers = append(n.closers, idx.Close)
	hosts := s.Gateway.Hostnames
	if len(hosts) == 0 {
		hosts = []string{gateway.DefaultHostname}
	}
	h, err := pages.New(pages.Config{Hostnames: hosts, Logger: n.log.With("subsystem", "pages"), Counter: n.reach}, n)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	return h, nil
}
