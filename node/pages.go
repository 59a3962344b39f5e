package node

import (
	"fmt"
	"net/http"

	"github.com/commons-p2p/commons/gateway"
	"github.com/commons-p2p/commons/gateway/pages"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/search"
)

// The node is what the design pages read.
var _ pages.Designs = (*Node)(nil)

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
